"""The real skeleton of the demo world: hospitals, places and agreements it is built on.

Institutions named here are real (names, districts, approximate coordinates); bed counts and
the exact dates of agreements are approximate. Everything about people is synthetic and lives
in the generator. Codes of divisions match ``registry/data/divisions.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class HospitalFact:
    code: str
    name_zh: str
    name_en: str
    division_code: str
    latitude: float
    longitude: float
    level: str
    grade: str
    type: str
    bed_count: int
    address: str
    specialties: tuple[str, ...]
    # relative share of the Beijing experts who take part in the cooperation
    expert_weight: int = 0


@dataclass(frozen=True)
class CountyFact:
    code: str
    name_zh: str
    name_en: str
    latitude: float
    longitude: float
    # "district" seats host community health centres; counties and cities host townships
    urban: bool
    # relative number of primary care members of the paediatric alliance
    weight: int


@dataclass(frozen=True)
class PairingFact:
    """One pairing of the 2017 Beijing–Baoding framework and how it went on afterwards."""

    supporting: str
    supported: str
    specialties: tuple[str, ...]
    years: int
    renewal: tuple[date, date] | None
    renewal_terminated_on: date | None
    goal_zh: str
    goal_en: str
    # outcome of the "regional medical centre by 2020" goal: achieved, missed or open
    outcome: str


BEIJING_HOSPITALS: tuple[HospitalFact, ...] = (
    HospitalFact(
        "BCH",
        "首都医科大学附属北京儿童医院",
        "Beijing Children's Hospital, Capital Medical University",
        "110102",
        39.9131,
        116.3526,
        "tertiary",
        "A",
        "childrens",
        970,
        "北京市西城区南礼士路56号",
        (
            "ped_hem_onc",
            "neonatology",
            "ped_surgery",
            "ped_cardiology",
            "ped_respiratory",
            "ped_neurology",
            "ped_nephrology",
            "ped_gastro",
            "ped_icu",
            "stem_cell_transplant",
            "anaesthesiology",
            "radiology",
            "laboratory",
            "pathology",
        ),
        expert_weight=30,
    ),
    HospitalFact(
        "PUMCH",
        "北京协和医院",
        "Peking Union Medical College Hospital",
        "110101",
        39.9122,
        116.4175,
        "tertiary",
        "A",
        "general",
        2000,
        "北京市东城区帅府园1号",
        (
            "cardiology",
            "endocrinology",
            "gastroenterology",
            "nephrology",
            "respiratory",
            "general_surgery",
            "obstetrics",
            "gynaecology",
            "pathology",
            "radiology",
            "dermatology",
        ),
        expert_weight=8,
    ),
    HospitalFact(
        "TTH",
        "首都医科大学附属北京天坛医院",
        "Beijing Tiantan Hospital, Capital Medical University",
        "110106",
        39.8390,
        116.3930,
        "tertiary",
        "A",
        "general",
        1650,
        "北京市丰台区南四环西路119号",
        ("neurology", "neurosurgery", "emergency", "icu", "radiology", "rehabilitation"),
        expert_weight=10,
    ),
    HospitalFact(
        "JSTH",
        "北京积水潭医院",
        "Beijing Jishuitan Hospital",
        "110102",
        39.9445,
        116.3720,
        "tertiary",
        "A",
        "general",
        1500,
        "北京市西城区新街口东街31号",
        ("orthopaedics", "rehabilitation", "emergency", "anaesthesiology", "radiology"),
        expert_weight=9,
    ),
    HospitalFact(
        "BTRH",
        "首都医科大学附属北京同仁医院",
        "Beijing Tongren Hospital, Capital Medical University",
        "110101",
        39.9003,
        116.4168,
        "tertiary",
        "A",
        "general",
        1650,
        "北京市东城区东交民巷1号",
        ("ophthalmology", "ent", "endocrinology", "cardiology", "stomatology"),
        expert_weight=8,
    ),
    HospitalFact(
        "BJTCM",
        "首都医科大学附属北京中医医院",
        "Beijing Hospital of Traditional Chinese Medicine, Capital Medical University",
        "110101",
        39.9340,
        116.4115,
        "tertiary",
        "A",
        "tcm",
        600,
        "北京市东城区美术馆后街23号",
        ("tcm", "rehabilitation", "gastroenterology", "dermatology", "respiratory"),
        expert_weight=6,
    ),
    HospitalFact(
        "BCYH",
        "首都医科大学附属北京朝阳医院",
        "Beijing Chao-Yang Hospital, Capital Medical University",
        "110105",
        39.9235,
        116.4495,
        "tertiary",
        "A",
        "general",
        1900,
        "北京市朝阳区工人体育场南路8号",
        ("respiratory", "cardiology", "emergency", "icu", "nephrology", "urology"),
        expert_weight=8,
    ),
    HospitalFact(
        "BFH",
        "首都医科大学附属北京友谊医院",
        "Beijing Friendship Hospital, Capital Medical University",
        "110102",
        39.8830,
        116.3950,
        "tertiary",
        "A",
        "general",
        1400,
        "北京市西城区永安路95号",
        ("gastroenterology", "general_surgery", "nephrology", "infectious", "urology"),
        expert_weight=7,
    ),
    HospitalFact(
        "XWH",
        "首都医科大学宣武医院",
        "Xuanwu Hospital, Capital Medical University",
        "110102",
        39.8895,
        116.3640,
        "tertiary",
        "A",
        "general",
        1400,
        "北京市西城区长椿街45号",
        ("neurology", "neurosurgery", "general_surgery", "anaesthesiology", "rehabilitation"),
        expert_weight=7,
    ),
    HospitalFact(
        "AZH",
        "首都医科大学附属北京安贞医院",
        "Beijing Anzhen Hospital, Capital Medical University",
        "110105",
        39.9720,
        116.4025,
        "tertiary",
        "A",
        "general",
        1500,
        "北京市朝阳区安贞路2号",
        ("cardiology", "cardiac_surgery", "icu", "anaesthesiology", "ped_cardiology"),
        expert_weight=7,
    ),
    HospitalFact(
        "BOGH",
        "首都医科大学附属北京妇产医院",
        "Beijing Obstetrics and Gynecology Hospital, Capital Medical University",
        "110105",
        39.9080,
        116.4920,
        "tertiary",
        "A",
        "maternal_child",
        660,
        "北京市朝阳区姚家园路251号",
        ("obstetrics", "gynaecology", "neonatology", "anaesthesiology"),
        expert_weight=5,
    ),
    HospitalFact(
        "PUCH",
        "北京大学肿瘤医院",
        "Peking University Cancer Hospital",
        "110108",
        39.9585,
        116.3180,
        "tertiary",
        "A",
        "specialised",
        900,
        "北京市海淀区阜成路52号",
        ("oncology", "general_surgery", "pathology", "radiology"),
        expert_weight=5,
    ),
)

BAODING_CHILDRENS = "BDCH"
BEIJING_CHILDRENS = "BCH"

BAODING_HOSPITALS: tuple[HospitalFact, ...] = (
    HospitalFact(
        BAODING_CHILDRENS,
        "北京儿童医院保定医院",
        "Beijing Children's Hospital Baoding Hospital",
        "130606",
        38.8640,
        115.5060,
        "tertiary",
        "A",
        "childrens",
        800,
        "河北省保定市莲池区东风东路",
        (
            "ped_hem_onc",
            "neonatology",
            "ped_surgery",
            "ped_respiratory",
            "ped_neurology",
            "ped_gastro",
            "ped_icu",
            "stem_cell_transplant",
            "radiology",
            "laboratory",
            "pathology",
        ),
    ),
    HospitalFact(
        "BD1C",
        "保定市第一中心医院",
        "Baoding No.1 Central Hospital",
        "130606",
        38.8700,
        115.4900,
        "tertiary",
        "A",
        "general",
        2000,
        "河北省保定市莲池区长城北大街",
        ("neurology", "neurosurgery", "cardiology", "emergency", "general_surgery", "icu"),
    ),
    HospitalFact(
        "BD2C",
        "保定市第二中心医院",
        "Baoding No.2 Central Hospital",
        "130681",
        39.4860,
        115.9750,
        "tertiary",
        "A",
        "general",
        1200,
        "河北省涿州市范阳东路",
        ("orthopaedics", "rehabilitation", "emergency", "general_surgery", "cardiology"),
    ),
    HospitalFact(
        "HBUAH",
        "河北大学附属医院",
        "Affiliated Hospital of Hebei University",
        "130606",
        38.8660,
        115.4985,
        "tertiary",
        "A",
        "general",
        2000,
        "河北省保定市莲池区裕华东路",
        ("ophthalmology", "ent", "endocrinology", "cardiology", "oncology", "respiratory"),
    ),
    HospitalFact(
        "BDTCM",
        "保定市第一中医院",
        "Baoding First Hospital of Traditional Chinese Medicine",
        "130602",
        38.8720,
        115.4700,
        "tertiary",
        "A",
        "tcm",
        700,
        "河北省保定市竞秀区裕华西路",
        ("tcm", "rehabilitation", "gastroenterology", "orthopaedics"),
    ),
    HospitalFact(
        "BDMCH",
        "保定市妇幼保健院",
        "Baoding Maternal and Child Health Hospital",
        "130602",
        38.8760,
        115.4650,
        "tertiary",
        "A",
        "maternal_child",
        600,
        "河北省保定市竞秀区",
        ("obstetrics", "gynaecology", "neonatology"),
    ),
)

# Before the 2015 trusteeship: the licensed name, the grade and the size of the hospital.
BDCH_FORMER_NAME_ZH = "保定市儿童医院"
BDCH_FORMER_NAME_EN = "Baoding Children's Hospital"
BDCH_BEDS_BEFORE = 300

BAODING_COUNTIES: tuple[CountyFact, ...] = (
    CountyFact("130602", "竞秀区", "Jingxiu District", 38.8774, 115.4587, True, 7),
    CountyFact("130606", "莲池区", "Lianchi District", 38.8831, 115.4971, True, 7),
    CountyFact("130607", "满城区", "Mancheng District", 38.9490, 115.3220, True, 4),
    CountyFact("130608", "清苑区", "Qingyuan District", 38.7650, 115.4890, True, 5),
    CountyFact("130609", "徐水区", "Xushui District", 39.0186, 115.6558, True, 5),
    CountyFact("130623", "涞水县", "Laishui County", 39.3940, 115.7135, False, 4),
    CountyFact("130624", "阜平县", "Fuping County", 38.8490, 114.1950, False, 3),
    CountyFact("130626", "定兴县", "Dingxing County", 39.2630, 115.8080, False, 5),
    CountyFact("130627", "唐县", "Tang County", 38.7480, 114.9820, False, 5),
    CountyFact("130628", "高阳县", "Gaoyang County", 38.7000, 115.7790, False, 4),
    CountyFact("130629", "容城县", "Rongcheng County", 39.0430, 115.8610, False, 3),
    CountyFact("130630", "涞源县", "Laiyuan County", 39.3600, 114.6940, False, 3),
    CountyFact("130631", "望都县", "Wangdu County", 38.7080, 115.1550, False, 3),
    CountyFact("130632", "安新县", "Anxin County", 38.9360, 115.9350, False, 4),
    CountyFact("130633", "易县", "Yi County", 39.3490, 115.4970, False, 5),
    CountyFact("130634", "曲阳县", "Quyang County", 38.6220, 114.7450, False, 5),
    CountyFact("130635", "蠡县", "Li County", 38.4880, 115.5830, False, 4),
    CountyFact("130636", "顺平县", "Shunping County", 38.8380, 115.1350, False, 3),
    CountyFact("130637", "博野县", "Boye County", 38.4580, 115.4640, False, 3),
    CountyFact("130638", "雄县", "Xiong County", 38.9940, 116.1090, False, 3),
    CountyFact("130681", "涿州市", "Zhuozhou City", 39.4850, 115.9740, False, 6),
    CountyFact("130682", "定州市", "Dingzhou City", 38.5160, 114.9900, False, 7),
    CountyFact("130683", "安国市", "Anguo City", 38.4180, 115.3270, False, 4),
    CountyFact("130684", "高碑店市", "Gaobeidian City", 39.3270, 115.8740, False, 5),
)

# Short ASCII tags for member codes (BD-LS-H, BD-LS-01 …), one per county above.
COUNTY_TAGS: dict[str, str] = {
    "130602": "JX",
    "130606": "LC",
    "130607": "MC",
    "130608": "QY",
    "130609": "XS",
    "130623": "LS",
    "130624": "FP",
    "130626": "DX",
    "130627": "TX",
    "130628": "GY",
    "130629": "RC",
    "130630": "LY",
    "130631": "WD",
    "130632": "AX",
    "130633": "YX",
    "130634": "QUY",
    "130635": "LX",
    "130636": "SP",
    "130637": "BY",
    "130638": "XX",
    "130681": "ZZ",
    "130682": "DZ",
    "130683": "AG",
    "130684": "GBD",
}

FRAMEWORK_2015_SIGNED = date(2015, 4, 10)
FRAMEWORK_2017_SIGNED = date(2017, 8, 25)
PAIRINGS_START = date(2017, 9, 1)
TRUSTEESHIP_START = date(2015, 6, 1)
ALLIANCE_FOUNDED = date(2017, 6, 1)
# "A total of 118 referrals were made to Beijing and 313 to local hospitals" (report of
# 31 August 2017, over the Beijing–Hebei cooperation since its 2015 framework agreement).
COOPERATION_REPORTED = date(2017, 8, 31)
REFERRALS_UP = 118
REFERRALS_DOWN = 313

PAIRINGS: tuple[PairingFact, ...] = (
    PairingFact(
        BEIJING_CHILDRENS,
        BAODING_CHILDRENS,
        ("ped_hem_onc", "neonatology", "ped_respiratory", "ped_icu"),
        5,
        (date(2022, 9, 1), date(2027, 9, 1)),
        None,
        "到2020年牵头组建保定市儿童区域医疗中心",
        "Lead a regional paediatric medical centre for Baoding by 2020",
        "achieved",
    ),
    PairingFact(
        "TTH",
        "BD1C",
        ("neurology", "neurosurgery"),
        3,
        (date(2020, 9, 1), date(2025, 9, 1)),
        None,
        "到2020年牵头组建保定市神经疾病区域医疗中心",
        "Lead a regional medical centre for neurological diseases by 2020",
        "achieved",
    ),
    PairingFact(
        "JSTH",
        "BD2C",
        ("orthopaedics", "rehabilitation", "emergency"),
        5,
        (date(2022, 9, 1), date(2027, 3, 1)),
        None,
        "到2020年牵头组建冀中北部骨科与创伤区域医疗中心",
        "Lead a regional orthopaedics and trauma centre for northern central Hebei by 2020",
        "open",
    ),
    PairingFact(
        "BTRH",
        "HBUAH",
        ("ophthalmology", "ent"),
        4,
        None,
        None,
        "到2020年牵头组建保定市眼耳鼻喉区域医疗中心",
        "Lead a regional eye and ENT medical centre for Baoding by 2020",
        "missed",
    ),
    PairingFact(
        "BJTCM",
        "BDTCM",
        ("tcm", "rehabilitation", "gastroenterology"),
        3,
        (date(2020, 9, 1), date(2023, 9, 1)),
        date(2022, 12, 31),
        "到2020年牵头组建保定市中医区域医疗中心",
        "Lead a regional traditional Chinese medicine centre for Baoding by 2020",
        "open",
    ),
)

# The eight shared centres of the Baoding Pediatric Medical Alliance and where they sit.
# A host of None means a county hospital member chosen by the generator.
ALLIANCE_CENTRES: tuple[tuple[str, str | None, str, str, date], ...] = (
    (
        "inspection",
        BAODING_CHILDRENS,
        "保定市儿科医联体区域检验中心",
        "Baoding Pediatric Medical Alliance Regional Inspection Centre",
        date(2017, 10, 1),
    ),
    (
        "imaging",
        BAODING_CHILDRENS,
        "保定市儿科医联体影像诊断中心",
        "Baoding Pediatric Medical Alliance Imaging Centre",
        date(2018, 3, 1),
    ),
    (
        "pathology",
        BAODING_CHILDRENS,
        "保定市儿科医联体病理诊断中心",
        "Baoding Pediatric Medical Alliance Pathology Centre",
        date(2018, 6, 1),
    ),
    (
        "ecg",
        None,
        "保定市儿科医联体心电诊断中心",
        "Baoding Pediatric Medical Alliance ECG Diagnosis Centre",
        date(2018, 9, 1),
    ),
    (
        "disinfection",
        "BDMCH",
        "保定市儿科医联体消毒供应中心",
        "Baoding Pediatric Medical Alliance Disinfection Supply Centre",
        date(2019, 3, 1),
    ),
    (
        "telemedicine",
        BAODING_CHILDRENS,
        "保定市儿科医联体远程医疗中心",
        "Baoding Pediatric Medical Alliance Telemedicine Centre",
        date(2018, 1, 1),
    ),
    (
        "critical_care",
        BAODING_CHILDRENS,
        "保定市儿科医联体危重症转运中心",
        "Baoding Pediatric Medical Alliance Critical Care Transfer Centre",
        date(2019, 9, 1),
    ),
    (
        "training",
        BAODING_CHILDRENS,
        "保定市儿科医联体培训中心",
        "Baoding Pediatric Medical Alliance Training Centre",
        date(2020, 5, 1),
    ),
)

# Synthetic names: common surnames and given-name characters with their pinyin.
SURNAMES: tuple[tuple[str, str], ...] = (
    ("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"),
    ("杨", "Yang"), ("赵", "Zhao"), ("黄", "Huang"), ("周", "Zhou"), ("吴", "Wu"),
    ("徐", "Xu"), ("孙", "Sun"), ("胡", "Hu"), ("朱", "Zhu"), ("高", "Gao"),
    ("林", "Lin"), ("何", "He"), ("郭", "Guo"), ("马", "Ma"), ("罗", "Luo"),
    ("梁", "Liang"), ("宋", "Song"), ("谢", "Xie"), ("韩", "Han"), ("唐", "Tang"),
    ("冯", "Feng"), ("于", "Yu"), ("董", "Dong"), ("程", "Cheng"), ("曹", "Cao"),
    ("袁", "Yuan"), ("邓", "Deng"), ("许", "Xu"), ("傅", "Fu"), ("沈", "Shen"),
    ("曾", "Zeng"), ("彭", "Peng"), ("吕", "Lyu"), ("苏", "Su"), ("卢", "Lu"),
)  # fmt: skip
GIVEN_CHARS: tuple[tuple[str, str], ...] = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
    ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("涛", "tao"), ("明", "ming"),
    ("超", "chao"), ("秀", "xiu"), ("霞", "xia"), ("平", "ping"), ("刚", "gang"),
    ("华", "hua"), ("建", "jian"), ("国", "guo"), ("文", "wen"), ("辉", "hui"),
    ("鹏", "peng"), ("宇", "yu"), ("欣", "xin"), ("佳", "jia"), ("晨", "chen"),
    ("琳", "lin"), ("博", "bo"), ("雪", "xue"), ("海", "hai"), ("慧", "hui"),
    ("颖", "ying"), ("思", "si"), ("怡", "yi"), ("春", "chun"), ("立", "li"),
)  # fmt: skip

# How titles are spread among the Beijing experts who go out (senior staff go more often).
EXPERT_TITLE_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("chief", 28),
    ("associate_chief", 37),
    ("attending", 28),
    ("resident", 7),
)
EXPERT_COUNT = 400

# Short names used in agreement titles.
SHORT_NAMES: dict[str, tuple[str, str]] = {
    "BCH": ("北京儿童医院", "Beijing Children's Hospital"),
    "TTH": ("北京天坛医院", "Beijing Tiantan Hospital"),
    "JSTH": ("北京积水潭医院", "Beijing Jishuitan Hospital"),
    "BTRH": ("北京同仁医院", "Beijing Tongren Hospital"),
    "BJTCM": ("北京中医医院", "Beijing Hospital of TCM"),
    "BOGH": ("北京妇产医院", "Beijing Obstetrics and Gynecology Hospital"),
    "BDCH": ("北京儿童医院保定医院", "Beijing Children's Hospital Baoding Hospital"),
    "BD1C": ("保定市第一中心医院", "Baoding No.1 Central Hospital"),
    "BD2C": ("保定市第二中心医院", "Baoding No.2 Central Hospital"),
    "HBUAH": ("河北大学附属医院", "Affiliated Hospital of Hebei University"),
    "BDTCM": ("保定市第一中医院", "Baoding First Hospital of TCM"),
    "BDMCH": ("保定市妇幼保健院", "Baoding Maternal and Child Health Hospital"),
}

# "... 12 major hospitals in Beijing have taken part in the Beijing-Hebei medical cooperation
# ... and 510 consultations were held" (the same report of 31 August 2017, same period).
CONSULTATIONS_REPORTED = 510
# "In the nine years of cooperation between Beijing Children's Hospital and Baoding
# Children's Hospital ... consulted on more than 10,000 difficult cases" (China News Service,
# Baoding, 26 February 2024). The split per year and the share held remotely (the rest in
# person by the visiting experts) are the demo's assumption: growing as the trusteeship
# matured, with more remote consultation once it was available around the clock and while
# travel was restricted in 2020-2022. (year, difficult cases consulted, of which remote)
DIFFICULT_REPORTED = date(2024, 2, 26)
DIFFICULT_MORE_THAN = 10_000
DIFFICULT_CASES: tuple[tuple[int, int, int], ...] = (
    (2015, 420, 40),
    (2016, 760, 110),
    (2017, 900, 170),
    (2018, 1050, 240),
    (2019, 1150, 300),
    (2020, 1100, 480),
    (2021, 1300, 520),
    (2022, 1450, 600),
    (2023, 1650, 640),
    (2024, 300, 110),
)

# "Altogether 12 major hospitals in Beijing have taken part in the Beijing-Hebei medical
# cooperation, making 24,435 out-calls. A total number of 10,258 patients were received"
# (the report of 31 August 2017, over the same period as its referrals and consultations).
OUT_CALLS_REPORTED = 24_435
PATIENTS_RECEIVED_REPORTED = 10_258
# "In 2016, more than 800 trips were made by medical professionals from Beijing Children's
# Hospital to Baoding" (same report).
TRIPS_2016_MORE_THAN = 800
# "In the nine years of cooperation ... more than 400 Beijing experts and more than 15,000
# people have come to Baoding, performed more than 6,000 expert surgeries" (China News
# Service, 26 February 2024: ``DIFFICULT_REPORTED``).
BDCH_EXPERTS_MORE_THAN = 400
BDCH_PERSON_VISITS_MORE_THAN = 15_000
BDCH_OPERATIONS_MORE_THAN = 6_000
# The visits of Beijing Children's Hospital to Baoding Children's Hospital per year, from the
# start of the trusteeship to the 2024 report (real dates; 2015 from June, 2024 to 26
# February): the demo's assumption, growing as the trusteeship matured, fewer trips but
# longer stays while travel was restricted in 2020-2022. The in-person difficult cases of
# each year are ``DIFFICULT_CASES`` less the remote ones.
# (year, trips, person-visits (expert-days on site), operations)
BDCH_VISITS: tuple[tuple[int, int, int, int], ...] = (
    (2015, 360, 560, 150),
    (2016, 830, 1300, 400),
    (2017, 900, 1500, 520),
    (2018, 960, 1750, 650),
    (2019, 1000, 1900, 750),
    (2020, 620, 1550, 640),
    (2021, 760, 1800, 800),
    (2022, 700, 1900, 850),
    (2023, 1050, 2500, 1100),
    (2024, 160, 420, 200),
)
# How many Beijing Children's Hospital experts have visited Baoding Children's by the 2024
# report: the pool the demo draws them from, joining year by year.
BDCH_EXPERT_POOL = 418

# "The proportion of Hebei patients released from Secondary-level or above hospitals in
# Beijing decreased from 9.1 percent in 2013 to 7.5 percent in 2016" (the report of 31 August
# 2017). The seeds give 2013 and 2016; the years between and after are the demo's assumption
# (falling on as care nearer home grew, lowest while travel was restricted in 2020-2022).
# (year, per cent of the Beijing hospitals' discharges that are of Hebei residents)
OUTFLOW_REPORTED: tuple[tuple[int, float], ...] = ((2013, 9.1), (2016, 7.5))
OUTFLOW_SHARE: tuple[tuple[int, float], ...] = (
    (2013, 9.1),
    (2014, 8.6),
    (2015, 8.1),
    (2016, 7.5),
    (2017, 7.2),
    (2018, 6.9),
    (2019, 6.7),
    (2020, 5.8),
    (2021, 6.1),
    (2022, 5.6),
    (2023, 6.2),
    (2024, 6.0),
)
# "The number of daily outpatient visits in Baoding Children's Hospital increased from between
# 600 and 800 before the launch of the program to between 1600 and 1800 now" (same report).
BDCH_OUTPATIENTS_BEFORE: tuple[int, int] = (600, 800)
BDCH_OUTPATIENTS_NOW: tuple[int, int] = (1600, 1800)
# The demo's plan of Baoding Children's mean daily outpatient visits by year: the middle of
# the seeds' ranges before the trusteeship (2014, and 2015 until it began) and in the year of
# the report (2017); in the months after the trusteeship began the level climbs by equal steps
# to the next year's.
BDCH_OUTPATIENTS_PER_DAY: tuple[tuple[int, int], ...] = (
    (2013, 680),
    (2014, 700),
    (2015, 700),
    (2016, 1500),
    (2017, 1700),
    (2018, 1780),
)
