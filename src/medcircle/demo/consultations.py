"""Remote consultation in the demo world: on-call rotas, expert accounts and skills, a
consultation history consistent with the seeds, and a few live cases. Pure, from the seed.

- The 2017 report counts **510 consultations** held by the 12 Beijing hospitals of the
  Beijing–Hebei cooperation over the same period as its 118 + 313 referrals. The demo holds
  exactly 510 remote consultations of the Beijing hospitals answering Baoding hospitals, over
  the same shifted period as the demo referrals (the 874 days that end the day before
  ``world.as_of``), more of them towards the end.
- The 2024 report counts **more than 10,000 difficult cases** consulted by Beijing Children's
  Hospital for Baoding Children's Hospital in nine years. ``facts.DIFFICULT_CASES`` splits
  them per year (2015-06-01 to 2024-02-26, real dates) into in-person consultations of the
  visiting experts (the difficult cases of their visit records, ``demo.visits``) and remote
  ones, which the demo holds as closed consultations marked ``is_difficult``.
- The rotas of the four paediatric specialties the 2017 pairing covers cover every hour from
  two weeks before ``as_of`` to four weeks after it, with primaries and backups, two leave
  periods and one gap a week ahead; the demo login ``oncall`` is the primary of paediatric
  respiratory medicine on the day.

Every history is a walk of ``consultations.domain.TRANSITIONS``; the response clock is the
domain's ``Clock`` (pauses while the asker is asked), the targets its default ``Targets``;
cases asked while a rota exists are placed by ``domain.route``.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from medcircle.consultations.domain import (
    AT_RISK_SHARE,
    Action,
    Clock,
    Expert,
    Leave,
    Mode,
    RotaIndex,
    Shift,
    ShiftRole,
    Status,
    Targets,
    Urgency,
    find_transition,
    route,
)
from medcircle.demo import cases as c
from medcircle.demo import facts
from medcircle.demo.referrals import CHINA, SPAN_DAYS, SYNTHETIC, acting_users, cutoff_of
from medcircle.demo.world import (
    DemoConsent,
    DemoConsultation,
    DemoEvent,
    DemoLeave,
    DemoMessage,
    DemoPatient,
    DemoShift,
    DemoSkill,
    DemoUser,
    World,
)
from medcircle.patients.domain import make_national_id

BCH, BDCH = facts.BEIJING_CHILDRENS, facts.BAODING_CHILDRENS
# the specialties of the 2017 pairing of BCH with Baoding Children's Hospital: they have rotas
ROTA_SPECIALTIES: tuple[str, ...] = next(
    p.specialties for p in facts.PAIRINGS if (p.supporting, p.supported) == (BCH, BDCH)
)
# the specialty of the demo story (a child with pneumonia at 3 a.m.)
DEMO_SPECIALTY = "ped_respiratory"
ONCALL_LOGIN = "oncall"
COORDINATOR_LOGIN = "bchcoord"
ROTA_PAST_DAYS = 14
ROTA_AHEAD_DAYS = 28
# rota experts per specialty at BCH (accounts), and per (hospital, specialty) elsewhere
ROTA_EXPERTS = 4
OTHER_EXPERTS = 2
# the gap a week ahead in the demo specialty: nobody on call 20:00 to 08:00 China time
GAP_DAY = 7
GAP_HOURS = 12
TARGETS = Targets()
# days an answered case waits for the asker before the platform closes it (the default)
AUTOCLOSE_DAYS = 14
# share of the asker's ratings that say a referral was avoided, among cases needing no visit
AVOIDED_GIVEN_NO_VISIT = 0.59
NEEDS_VISIT_SHARE = 0.15
# a child with several difficult consultations over the years (share of difficult cases)
REPEAT_PATIENT_SHARE = 0.3
# the live cases of the day: asked at these hours after midnight China time of ``as_of``
# (waiting for the asker, in the pool, the 3 a.m. child with ``oncall``); their other steps
# come within the hour
LIVE_HOURS = (1, 2, 3)
# the demo day turns when the last live case has been asked: a world for ``as_of`` holds
# nothing after 03:00 China time of ``as_of``, so a load before then is the day before's
DAY_TURNS = timedelta(hours=max(LIVE_HOURS))


@dataclass(frozen=True)
class Topic:
    """A kind of question a Beijing department answers remotely."""

    key: str
    specialty: str
    icd10: str
    diagnosis: str
    child: bool
    ages: tuple[int, int]
    question: str
    summary: str
    assessment: str
    recommendations: str
    # emergency, urgent, routine weights
    urgency: tuple[int, int, int] = (1, 3, 12)


def _from_case(key: str, assessment: str, recommendations: str) -> Topic:
    case = c.CASE_BY_KEY[key]
    return Topic(
        key,
        case.specialty,
        case.icd10,
        case.diagnosis,
        case.child,
        case.ages,
        case.reason,
        case.summary,
        assessment,
        recommendations,
        case.urgency,
    )


TOPICS: tuple[Topic, ...] = (
    _from_case(
        "all",
        "Picture consistent with B-ALL; marrow morphology and flow cytometry needed for risk.",
        "Marrow aspirate with flow cytometry and cytogenetics; start induction under the "
        "shared protocol once confirmed; tumour lysis precautions now.",
    ),
    _from_case(
        "aplastic",
        "Severe aplastic anaemia is likely; a matched sibling donor makes transplant first choice.",
        "HLA-type the sibling, irradiated and filtered products only, book the transplant "
        "work-up with the Baoding cleanroom team.",
    ),
    _from_case(
        "thalassaemia",
        "Transfusion-dependent beta thalassaemia with iron overload; transplant candidate.",
        "Intensify chelation, cardiac T2* MRI, donor search; add to the pooled class-100 "
        "room queue.",
    ),
    _from_case(
        "vsd",
        "Haemodynamically significant perimembranous VSD.",
        "Diuretics and feeding support; echo in four weeks; surgical closure if growth falters.",
    ),
    _from_case(
        "tof",
        "Tetralogy of Fallot with adequate pulmonary arteries.",
        "Elective complete repair at 4-6 months; teach the parents to manage spells.",
    ),
    _from_case(
        "kawasaki",
        "Complete Kawasaki disease on day 6, coronaries normal so far.",
        "IVIG 2 g/kg and aspirin now; echo at 2 and 6 weeks.",
    ),
    _from_case(
        "epilepsy",
        "Focal epilepsy, probably structural; current drug at a sub-therapeutic dose.",
        "Raise the dose to target, sleep EEG and MRI with epilepsy protocol; review in a month.",
    ),
    _from_case(
        "nephrotic",
        "Steroid-sensitive nephrotic syndrome with frequent relapses.",
        "Taper steroids as in the shared protocol; consider a steroid-sparing agent.",
    ),
    _from_case(
        "hirschsprung",
        "Clinical picture and contrast enema fit Hirschsprung disease.",
        "Rectal suction biopsy to confirm; rectal washouts until the pull-through.",
    ),
    _from_case(
        "wilms",
        "Unilateral renal mass in keeping with Wilms tumour.",
        "Staging CT of the chest, no biopsy; pre-operative chemotherapy per protocol.",
    ),
    _from_case(
        "preterm",
        "Preterm infant with feeding intolerance; no sign of NEC at present.",
        "Slow enteral advance with breast milk, abdominal X-ray if distension returns.",
    ),
    _from_case(
        "rds",
        "Moderate respiratory distress syndrome of the newborn.",
        "Surfactant via LISA and CPAP; avoid intubation unless FiO2 above 0.4.",
    ),
    _from_case(
        "bronchiectasis",
        "Post-infectious bronchiectasis, left lower lobe.",
        "Airway clearance twice daily, sputum culture, sweat test and immunoglobulins.",
    ),
    _from_case(
        "severe_pneumonia",
        "Severe pneumonia with respiratory failure; effusion to be excluded.",
        "High-flow oxygen, chest ultrasound, broaden antibiotics; transfer if worsening.",
    ),
    _from_case(
        "crohn",
        "Paediatric Crohn disease, ileocolonic, moderate activity.",
        "Exclusive enteral nutrition for eight weeks; faecal calprotectin at the end.",
    ),
    Topic(
        "pneumonia",
        "ped_respiratory",
        "J18.9",
        "Pneumonia",
        True,
        (1, 8),
        "Fever for five days despite amoxicillin; change antibiotics or look further?",
        "Cough and fever, crackles right base; CRP 86, chest X-ray right lower lobe consolidation.",
        "Community-acquired pneumonia not responding to amoxicillin; mycoplasma likely.",
        "Add azithromycin for five days; chest ultrasound for effusion; review in 48 hours.",
        (1, 5, 10),
    ),
    Topic(
        "asthma",
        "ped_respiratory",
        "J45.9",
        "Asthma",
        True,
        (4, 14),
        "Poorly controlled asthma on inhaled steroid: step up or check technique first?",
        "Night cough three times a week, two courses of oral steroid this winter.",
        "Uncontrolled asthma, inhaler technique poor, step 3 therapy warranted.",
        "Spacer technique taught again, step up to ICS-LABA, asthma action plan.",
        (0, 2, 14),
    ),
    _from_case(
        "aneurysm",
        "Small unruptured aneurysm, low rupture risk.",
        "Blood pressure control, stop smoking, CT angiography in one year.",
    ),
    _from_case(
        "stroke_rehab",
        "Left MCA infarct two weeks ago, stable.",
        "Secondary prevention as given; start inpatient rehabilitation locally.",
    ),
    _from_case(
        "hip_fracture",
        "Displaced femoral neck fracture in a frail patient.",
        "Hemiarthroplasty within 48 hours locally; early mobilisation.",
    ),
    _from_case(
        "scoliosis",
        "Juvenile idiopathic scoliosis, Cobb 28 degrees, skeletally immature.",
        "Full-time brace and X-ray every six months.",
    ),
    _from_case(
        "retina",
        "Macula-on retinal detachment: urgent.",
        "Vitrectomy within 24 hours; posture advice until then.",
    ),
    _from_case(
        "hearing",
        "Bilateral moderate-to-severe sensorineural hearing loss.",
        "Hearing aids now; genetic testing; cochlear implant assessment if no benefit.",
    ),
    _from_case(
        "gastritis",
        "Chronic gastritis with H. pylori.",
        "Bismuth quadruple therapy for 14 days; breath test 4 weeks after.",
    ),
    _from_case(
        "neonatal_obs",
        "Physiological jaundice with a rising bilirubin near the treatment line.",
        "Phototherapy per the hour-specific chart; bilirubin in 6 hours.",
    ),
    Topic(
        "preeclampsia",
        "obstetrics",
        "O14.1",
        "Severe pre-eclampsia",
        False,
        (24, 40),
        "Severe pre-eclampsia at 32 weeks: deliver now or steroids first?",
        "BP 168/112, proteinuria 3+, platelets normal, fetal growth on the 10th centile.",
        "Severe pre-eclampsia without HELLP at 32 weeks.",
        "Magnesium sulfate, antenatal steroids, labetalol; deliver after 48 hours if stable.",
        (2, 6, 2),
    ),
    Topic(
        "parkinson",
        "neurology",
        "G20",
        "Parkinson disease",
        False,
        (55, 80),
        "Wearing-off on levodopa: add a second drug or change the dosing?",
        "Five years on levodopa, now wearing-off two hours before the next dose.",
        "Motor fluctuations of Parkinson disease.",
        "Split the levodopa into five doses and add entacapone; review in six weeks.",
    ),
    Topic(
        "angina",
        "cardiology",
        "I20.8",
        "Stable angina",
        False,
        (50, 78),
        "Angina on exertion despite two drugs: angiography now?",
        "Chest pain at 200 m, exercise ECG positive at stage 2.",
        "Stable angina, high-risk exercise test.",
        "Coronary angiography within two weeks; add ranolazine meanwhile.",
        (0, 4, 12),
    ),
    Topic(
        "graves",
        "endocrinology",
        "E05.0",
        "Graves disease",
        False,
        (20, 60),
        "Relapse of Graves disease after 18 months of methimazole: radioiodine or surgery?",
        "TRAb still high, goitre grade 2, mild eye signs.",
        "Relapsed Graves disease with mild orbitopathy.",
        "Methimazole again; thyroidectomy preferred over radioiodine because of the eyes.",
    ),
    Topic(
        "copd",
        "respiratory",
        "J44.1",
        "COPD with acute exacerbation",
        False,
        (55, 85),
        "Third exacerbation this year: what long-term treatment?",
        "FEV1 42 % predicted, eosinophils 350, on LAMA only.",
        "Frequent exacerbator with eosinophilia.",
        "Triple inhaled therapy; pulmonary rehabilitation; vaccinations.",
        (1, 5, 10),
    ),
    Topic(
        "cirrhosis",
        "gastroenterology",
        "K74.6",
        "Cirrhosis of liver",
        False,
        (40, 75),
        "Cirrhosis with new ascites: work-up and transplant referral?",
        "Hepatitis B cirrhosis, Child-Pugh B8, new ascites, on entecavir.",
        "Decompensated hepatitis B cirrhosis.",
        "Diagnostic paracentesis, diuretics, variceal screening; MELD every three months.",
    ),
    Topic(
        "lung_cancer",
        "oncology",
        "C34.9",
        "Malignant neoplasm of lung",
        False,
        (45, 80),
        "Adenocarcinoma stage IIIA: which molecular tests before treatment?",
        "Right upper lobe mass with mediastinal nodes, biopsy adenocarcinoma.",
        "Stage IIIA lung adenocarcinoma, molecular status unknown.",
        "EGFR, ALK and PD-L1 on the biopsy; multidisciplinary review before treatment.",
    ),
)
TOPIC_BY_KEY: dict[str, Topic] = {t.key: t for t in TOPICS}

# The 510: which Baoding hospital asks which Beijing hospital about what (weights). Every one
# of the 12 Beijing hospitals answers some.
ROUTES: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    (BDCH, BCH, ("all", "preterm", "rds", "pneumonia", "asthma", "severe_pneumonia"), 36),
    (BDCH, BCH, ("aplastic", "vsd", "epilepsy", "nephrotic", "crohn", "wilms"), 8),
    ("BD1C", "TTH", ("aneurysm", "stroke_rehab"), 10),
    ("BD2C", "JSTH", ("hip_fracture", "scoliosis"), 8),
    ("HBUAH", "BTRH", ("retina", "hearing"), 7),
    ("BDTCM", "BJTCM", ("gastritis",), 4),
    ("BDMCH", "BOGH", ("preeclampsia", "neonatal_obs"), 5),
    ("BD1C", "XWH", ("parkinson", "stroke_rehab"), 4),
    ("BD1C", "AZH", ("angina",), 3),
    (BDCH, "AZH", ("tof",), 2),
    ("HBUAH", "PUMCH", ("graves",), 4),
    ("HBUAH", "BCYH", ("copd",), 3),
    ("BD2C", "BFH", ("cirrhosis",), 3),
    ("HBUAH", "PUCH", ("lung_cancer",), 3),
)
# BCH answering Baoding Children's: the difficult cases, hem-onc and transplant the most
DIFFICULT_TOPICS: tuple[tuple[str, int], ...] = (
    ("all", 20),
    ("aplastic", 8),
    ("thalassaemia", 8),
    ("wilms", 5),
    ("vsd", 5),
    ("tof", 5),
    ("kawasaki", 4),
    ("epilepsy", 7),
    ("nephrotic", 6),
    ("hirschsprung", 4),
    ("preterm", 7),
    ("rds", 6),
    ("bronchiectasis", 4),
    ("severe_pneumonia", 8),
    ("crohn", 3),
)
SKILLS: dict[str, tuple[str, ...]] = {
    "ped_hem_onc": ("C91", "C92", "D61"),
    "ped_respiratory": ("J18", "J47", "J45"),
    "neonatology": ("P07", "P22"),
    "ped_icu": ("J96", "A41"),
}
CLARIFICATIONS: tuple[tuple[str, str], ...] = (
    (
        "Please send the latest blood count and the chest X-ray report.",
        "Blood count and the X-ray report attached; WBC 14.2, CRP 40.",
    ),
    (
        "What is the current weight, and which doses were given so far?",
        "Weight 18 kg; doses as in the medication chart, attached.",
    ),
    (
        "Any family history of similar illness? Were there earlier episodes?",
        "No family history; one similar episode last year, treated locally.",
    ),
    (
        "Could you add the imaging itself, not only the report?",
        "Images uploaded (DICOM export as PDF).",
    ),
)
LEAVE_REASONS = ("Academic conference", "Sick leave")
RELEASE_REASON = "In theatre all morning; a colleague on the rota can answer sooner."


def _lognormal(rng: random.Random, median_minutes: float, sigma: float) -> timedelta:
    return timedelta(seconds=round(60 * median_minutes * math.exp(rng.gauss(0, sigma))))


def _whole(at: datetime) -> datetime:
    """Instants in whole seconds, as the clock's stored seconds are."""
    return at.replace(microsecond=0)


# median and spread of the time to a first answer per urgency (clock time, pauses left out)
ANSWER_TIMES: dict[Urgency, tuple[float, float]] = {
    Urgency.EMERGENCY: (12, 0.5),
    Urgency.URGENT: (50, 0.8),
    Urgency.ROUTINE: (120, 1.0),
}


def china_midnight(d: date) -> datetime:
    """00:00 China time on ``d`` as a UTC instant."""
    return datetime.combine(d, time(0), tzinfo=UTC) - CHINA


def shift_start(d: date) -> datetime:
    """Shifts hand over at 08:00 China time (00:00 UTC)."""
    return datetime.combine(d, time(0), tzinfo=UTC)


# --- accounts -----------------------------------------------------------------------------


@dataclass
class Staff:
    """The expert accounts by (institution, specialty), and the asker accounts."""

    experts: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    askers: dict[str, str] = field(default_factory=dict)
    # routing works on numbers: one per expert account
    number: dict[str, int] = field(default_factory=dict)
    skills: dict[str, tuple[str, ...]] = field(default_factory=dict)


def expert_accounts(world: World, rng: random.Random) -> Staff:
    """Expert accounts (not printed) for the pools that answer: the rota specialties of BCH
    and the specialty of each route; the demo logins ``oncall`` and ``bchcoord``."""
    staff = Staff()
    linked = {u.practitioner for u in world.users if u.practitioner}
    pools: dict[tuple[str, str], int] = {(BCH, s): ROTA_EXPERTS for s in ROTA_SPECIALTIES}
    for _, answer, topics, _ in ROUTES:
        for key in topics:
            pools.setdefault((answer, TOPIC_BY_KEY[key].specialty), OTHER_EXPERTS)
    for key, _ in DIFFICULT_TOPICS:
        pools.setdefault((BCH, TOPIC_BY_KEY[key].specialty), OTHER_EXPERTS)
    created = facts.TRUSTEESHIP_START
    for (inst, spec), size in pools.items():
        names: list[str] = []
        # the demo expert login is a chief of haematology-oncology at BCH
        for u in world.users:
            p = next((p for p in world.practitioners if p.key == u.practitioner), None)
            if (
                "expert" in u.roles
                and p is not None
                and (p.institution, p.specialty_code)
                == (
                    inst,
                    spec,
                )
            ):
                names.append(u.username)
        doctors = [
            p
            for p in world.practitioners
            if (p.institution, p.specialty_code) == (inst, spec) and p.key not in linked
        ]
        if not doctors and not names:
            # no doctor of that specialty among this world's experts: any of the hospital's
            doctors = [
                p for p in world.practitioners if p.institution == inst and p.key not in linked
            ]
        doctors.sort(key=lambda p: p.key)
        for n, p in enumerate(doctors[: max(0, size - len(names))], start=1):
            first_demo = (inst, spec) == (BCH, DEMO_SPECIALTY) and n == 1
            username = ONCALL_LOGIN if first_demo else f"{inst.lower()}.{spec}.{n}"
            world.users.append(
                DemoUser(
                    username=username,
                    display_name=p.name_zh,
                    institution=inst,
                    roles=("expert",),
                    locale="zh_Hans",
                    practitioner=p.key,
                    created_on=created,
                    listed=first_demo,
                )
            )
            linked.add(p.key)
            names.append(username)
        if not names:
            raise ValueError(f"no expert for {inst} {spec}")
        staff.experts[(inst, spec)] = names
    world.users.append(
        DemoUser(
            username=COORDINATOR_LOGIN,
            display_name="远程会诊协调员（示例）",
            institution=BCH,
            roles=("coordinator",),
            locale="zh_Hans",
            practitioner=None,
            created_on=facts.PAIRINGS_START,
        )
    )
    staff.askers = acting_users(world)
    every = sorted({u for names in staff.experts.values() for u in names})
    staff.number = {u: n for n, u in enumerate(every, start=1)}
    return staff


# --- the rota -----------------------------------------------------------------------------


def rotas(world: World, staff: Staff, rng: random.Random) -> dict[str, RotaIndex]:
    """Daily primary and backup shifts (08:00 to 08:00 China time) for the BCH rota
    specialties, from two weeks before ``as_of`` to four weeks after; ``oncall`` is the
    primary of the demo specialty from the day before ``as_of`` to the day after; one leave
    planned around, one sick leave that falls on shifts (a warning), one gap a week ahead."""
    as_of = world.as_of
    first = as_of - timedelta(days=ROTA_PAST_DAYS)
    days = [first + timedelta(days=i) for i in range(ROTA_PAST_DAYS + ROTA_AHEAD_DAYS)]
    made_at = shift_start(first) - timedelta(days=10)
    # leave the rota was made around: an expert of haematology-oncology at a conference
    hem = staff.experts[(BCH, "ped_hem_onc")]
    planned = DemoLeave(
        hem[-1],
        shift_start(as_of + timedelta(days=3)),
        shift_start(as_of + timedelta(days=8)),
        LEAVE_REASONS[0],
        COORDINATOR_LOGIN,
        made_at,
    )
    # sick leave recorded after the rota: the neonatology primary of those days is away
    neo = staff.experts[(BCH, "neonatology")]
    world.leaves.append(planned)
    out: dict[str, RotaIndex] = {}
    for spec in ROTA_SPECIALTIES:
        names = staff.experts[(BCH, spec)]
        n = len(names)
        offset = rng.randrange(n)
        shifts: list[DemoShift] = []
        for i, day in enumerate(days):
            start, end = shift_start(day), shift_start(day + timedelta(days=1))
            free = [
                u
                for u in names
                if not (u == planned.user and planned.starts_at < end and start < planned.ends_at)
            ]
            primary = free[(i + offset) % len(free)]
            if spec == DEMO_SPECIALTY and -1 <= (day - as_of).days <= 1:
                primary = ONCALL_LOGIN
            others = [u for u in free if u != primary]
            backup = others[(i + offset) % len(others)]
            if spec == DEMO_SPECIALTY and (day - as_of).days == GAP_DAY:
                end = end - timedelta(hours=GAP_HOURS)
            # the coordinator made the rota
            for user, role in ((primary, ShiftRole.PRIMARY), (backup, ShiftRole.BACKUP)):
                shifts.append(
                    DemoShift(BCH, spec, user, start, end, role.value, COORDINATOR_LOGIN, made_at)
                )
        if spec == "neonatology":
            sick_day = as_of + timedelta(days=2)
            sick_user = next(
                s.user
                for s in shifts
                if s.starts_at == shift_start(sick_day) and s.role == ShiftRole.PRIMARY
            )
            assert sick_user in neo
            world.leaves.append(
                DemoLeave(
                    sick_user,
                    shift_start(sick_day),
                    shift_start(sick_day + timedelta(days=2)),
                    LEAVE_REASONS[1],
                    COORDINATOR_LOGIN,
                    china_midnight(as_of) - timedelta(hours=6),
                )
            )
        world.shifts.extend(shifts)
        num = staff.number
        out[spec] = RotaIndex(
            [Shift(num[s.user], s.starts_at, s.ends_at, ShiftRole(s.role)) for s in shifts], []
        )
    leaves = [Leave(staff.number[lv.user], lv.starts_at, lv.ends_at) for lv in world.leaves]
    for index in out.values():
        index.leaves = leaves
    return out


def skills(world: World, staff: Staff) -> None:
    """Some rota experts are known for a diagnosis group (used by routing)."""
    for spec, prefixes in SKILLS.items():
        names = staff.experts[(BCH, spec)]
        for user, prefix in zip(names, prefixes, strict=False):
            staff.skills[user] = (prefix,)
            world.skills.append(DemoSkill(user, prefix))


# --- patients -----------------------------------------------------------------------------


class Patients:
    """Synthetic patients with valid ID numbers unique across the world, and their consent
    to consultation by the answering institution."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.ids = {p.national_id for p in world.patients}
        self.patients: list[DemoPatient] = []
        self.consents: list[DemoConsent] = []
        self.consent_of: dict[tuple[str, str], DemoConsent] = {}

    def new(self, topic: Topic, institution: str, at: datetime) -> DemoPatient:
        rng = self.rng
        day = (at + CHINA).date()
        lo, hi = topic.ages
        if hi == 0:
            born = day - timedelta(days=rng.randint(0, 20))
        else:
            born = day - timedelta(days=rng.randint(lo * 365 + 30, hi * 365 + 330))
        male = rng.random() < 0.52
        counties = facts.BAODING_COUNTIES
        residence = rng.choices(counties, weights=[k.weight for k in counties])[0].code
        while True:
            number = make_national_id(residence, born, rng.randrange(500) * 2 + int(male))
            if number not in self.ids:
                self.ids.add(number)
                break
        surname, _ = rng.choice(facts.SURNAMES)
        given = "".join(ch for ch, _ in rng.sample(facts.GIVEN_CHARS, rng.choice((1, 2, 2))))
        phone = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
        guardian = relation = guardian_phone = None
        own_phone: str | None = phone
        if topic.child:
            relation = rng.choices(("mother", "father", "grandparent"), weights=(55, 35, 10))[0]
            g_surname = surname if relation != "mother" else rng.choice(facts.SURNAMES)[0]
            g_given = rng.choice(facts.GIVEN_CHARS)[0] + rng.choice(facts.GIVEN_CHARS)[0]
            guardian, guardian_phone, own_phone = g_surname + g_given + SYNTHETIC, phone, None
        patient = DemoPatient(
            key=f"CP-{len(self.patients) + 1:05d}",
            institution=institution,
            name=surname + given + SYNTHETIC,
            sex="male" if male else "female",
            birth_date=born,
            national_id=number,
            phone=own_phone,
            residence_division_code=residence,
            guardian_name=guardian,
            guardian_relation=relation,
            guardian_phone=guardian_phone,
            registered_at=at - timedelta(minutes=rng.randint(60, 60 * 24 * 10)),
        )
        self.patients.append(patient)
        return patient

    def consent(
        self, patient: DemoPatient, answer: str, recorded_by: str, at: datetime
    ) -> DemoConsent:
        """The patient's consent to consultation by ``answer`` (given once, before the first
        consultation, valid until withdrawn)."""
        found = self.consent_of.get((patient.key, answer))
        if found is not None:
            return found
        given = max(patient.registered_at, at - timedelta(minutes=self.rng.randint(5, 50)))
        consent = DemoConsent(
            key=f"CC-{len(self.consents) + 1:05d}",
            patient=patient.key,
            receiving_institution=answer,
            purpose="consultation",
            given_by="guardian" if patient.guardian_name else "patient",
            given_by_name=patient.guardian_name or patient.name,
            given_at=given,
            valid_until=None,
            recorded_by=recorded_by,
        )
        self.consents.append(consent)
        self.consent_of[(patient.key, answer)] = consent
        return consent


# --- one consultation's life --------------------------------------------------------------


@dataclass
class Life:
    """A consultation being walked through the transitions."""

    topic: Topic
    asker: str
    answer: str
    specialty: str
    asker_user: str
    patient: DemoPatient
    consent: DemoConsent
    agreement: str | None
    urgency: Urgency
    mode: Mode
    asked_at: datetime
    is_difficult: bool
    status: Status | None = None
    clock: Clock | None = None
    assignee: str | None = None
    route_reason: str | None = None
    escalation_level: int = 0
    events: list[DemoEvent] = field(default_factory=list)
    messages: list[DemoMessage] = field(default_factory=list)
    first_answered_at: datetime | None = None
    answered_at: datetime | None = None
    opinion_by: str | None = None
    needs_visit: bool | None = None
    helpful: int | None = None
    referral_avoided: bool | None = None
    rated_at: datetime | None = None
    closed_at: datetime | None = None
    other_specialties: tuple[str, ...] = ()

    def step(
        self,
        at: datetime,
        action: Action,
        to: Status,
        actor: str | None,
        institution: str | None,
        note: str | None = None,
        detail: tuple[tuple[str, str | bool], ...] = (),
    ) -> None:
        assert self.status is not None
        t = find_transition(self.status, action, to)
        assert t is not None, (self.status, action, to)
        self.events.append(
            DemoEvent(
                at,
                action.value,
                self.status.value,
                to.value,
                actor,
                institution,
                note,
                detail,
            )
        )
        self.status = to


class Builder:
    def __init__(self, world: World, staff: Staff, rng: random.Random) -> None:
        self.world = world
        self.staff = staff
        self.rng = rng
        self.people = Patients(world, rng)
        self.departments = {(d.institution, d.specialty_code) for d in world.departments}
        self.lives: list[Life] = []

    def agreement(self, answer: str, asker: str, specialty: str, on: date) -> str | None:
        """The agreement in force under which ``answer`` supports ``asker`` (one naming the
        specialty first, then one covering every specialty), None under the framework."""
        found = [
            a
            for a in self.world.agreements
            if (a.supporting, a.supported) == (answer, asker)
            and a.starts_on <= on < a.ends_on
            and (a.terminated_on is None or on < a.terminated_on)
            and (not a.specialties or specialty in a.specialties)
        ]
        found.sort(key=lambda a: (not a.specialties, a.code))
        return found[0].code if found else None

    def asker_specialty(self, asker: str, topic: Topic) -> str | None:
        for spec in (topic.specialty, "ped_respiratory" if topic.child else "general_practice"):
            if (asker, spec) in self.departments:
                return spec
        return None

    def urgency(self, topic: Topic) -> Urgency:
        return self.rng.choices(
            (Urgency.EMERGENCY, Urgency.URGENT, Urgency.ROUTINE), weights=topic.urgency
        )[0]

    def mode(self) -> Mode:
        return self.rng.choices((Mode.WRITTEN, Mode.VIDEO, Mode.MDT), weights=(86, 9, 5))[0]

    def start(
        self,
        topic: Topic,
        asker: str,
        answer: str,
        at: datetime,
        *,
        difficult: bool,
        patient: DemoPatient | None = None,
        urgency: Urgency | None = None,
        mode: Mode | None = None,
    ) -> Life:
        asker_user = self.staff.askers[asker]
        if patient is None:
            patient = self.people.new(topic, asker, at)
        consent = self.people.consent(patient, answer, asker_user, at)
        mode = mode or self.mode()
        life = Life(
            topic=topic,
            asker=asker,
            answer=answer,
            specialty=topic.specialty,
            asker_user=asker_user,
            patient=patient,
            consent=consent,
            agreement=self.agreement(answer, asker, topic.specialty, (at + CHINA).date()),
            urgency=urgency or self.urgency(topic),
            mode=mode,
            asked_at=at,
            is_difficult=difficult,
        )
        if mode == Mode.MDT:
            others = sorted(
                s
                for (i, s) in self.staff.experts
                if i == answer and s != topic.specialty and (i, s) in self.departments
            )
            if others:
                life.other_specialties = (self.rng.choice(others),)
            else:
                life.mode = Mode.WRITTEN
        life.clock = Clock(at, TARGETS.for_urgency(life.urgency))
        self.lives.append(life)
        return life

    def ask(self, life: Life, rota: RotaIndex | None, load: dict[int, int]) -> None:
        """The first event: routed to who is on call where a rota exists, else in the pool
        and claimed by an expert of the pool a little later."""
        at = life.asked_at
        asker_inst = life.asker
        pool = self.staff.experts[(life.answer, life.specialty)]
        if rota is not None:
            by_id = {self.staff.number[u]: u for u in pool}
            experts = {i: Expert(i, self.staff.skills.get(u, ())) for i, u in by_id.items()}
            decision = route(rota, experts, load, at, life.topic.icd10)
            if decision.user_id is not None:
                life.route_reason = decision.reason.value
                life.assignee = by_id[decision.user_id]
                load[decision.user_id] = load.get(decision.user_id, 0) + 1
                life.events.append(
                    DemoEvent(
                        at,
                        "ask",
                        None,
                        Status.ASSIGNED.value,
                        life.asker_user,
                        asker_inst,
                        None,
                        (("route_reason", decision.reason.value),),
                    )
                )
                life.status = Status.ASSIGNED
                return
            life.route_reason = decision.reason.value
        life.events.append(
            DemoEvent(
                at,
                "ask",
                None,
                Status.POOL.value,
                life.asker_user,
                asker_inst,
                None,
                (("route_reason", life.route_reason),) if life.route_reason else (),
            )
        )
        life.status = Status.POOL

    def claim(self, life: Life, at: datetime, user: str | None = None) -> None:
        pool = self.staff.experts[(life.answer, life.specialty)]
        user = user or self.rng.choice(pool)
        life.step(at, Action.CLAIM, Status.ASSIGNED, user, life.answer)
        life.assignee = user

    def history(self, life: Life, rota: RotaIndex | None, cutoff: datetime | None) -> None:
        """A whole life up to the opinion, the rating and the close (before ``cutoff`` where
        given: what comes after it has not happened yet)."""
        rng = self.rng
        assert life.clock is not None
        target = life.clock.target
        median, sigma = ANSWER_TIMES[life.urgency]
        # capped so a case asked at the end of the period is answered inside it
        answer_in = min(_lognormal(rng, median, sigma), target * 1.6)
        self.ask(life, rota, {})
        pool = self.staff.experts[(life.answer, life.specialty)]
        if life.status == Status.POOL:
            claim_in = min(answer_in * rng.uniform(0.1, 0.4), target * 0.5)
            self.claim(life, _whole(life.asked_at + claim_in))
        assert life.assignee is not None
        clock = life.clock
        paused = rng.random() < 0.2 and answer_in < target * AT_RISK_SHARE
        if paused:
            asked_q = life.asked_at + answer_in * rng.uniform(0.3, 0.6)
            asked_q = _whole(max(asked_q, life.events[-1].at + timedelta(minutes=1)))
            question, reply = rng.choice(CLARIFICATIONS)
            life.step(asked_q, Action.ASK_ASKER, Status.AWAITING_ASKER, life.assignee, life.answer)
            life.messages.append(
                DemoMessage(asked_q, "question", life.assignee, life.answer, question)
            )
            clock = clock.pause(asked_q)
            replied = asked_q + min(_lognormal(rng, 90, 0.8), timedelta(hours=12))
            life.step(replied, Action.REPLY, Status.ASSIGNED, life.asker_user, life.asker)
            life.messages.append(DemoMessage(replied, "reply", life.asker_user, life.asker, reply))
            clock = clock.resume(replied)
        others = [u for u in pool if u != life.assignee]
        if answer_in > target * AT_RISK_SHARE and others:
            at_risk = clock.at_risk_at()
            assert at_risk is not None
            nxt = rng.choice(others)
            life.step(
                at_risk, Action.ESCALATE, Status.ASSIGNED, None, None, None, (("level", "1"),)
            )
            life.assignee, life.escalation_level = nxt, 1
            if answer_in > target:
                due = clock.due_at()
                assert due is not None
                life.step(due, Action.ESCALATE, Status.POOL, None, None, None, (("level", "2"),))
                life.escalation_level = 2
                life.assignee = None
                late = clock.started_at + timedelta(seconds=clock.paused_seconds) + answer_in
                self.claim(life, _whole(due + (late - due) * rng.uniform(0.2, 0.6)), nxt)
        answered = clock.started_at + timedelta(seconds=clock.paused_seconds) + answer_in
        answered = max(answered, life.events[-1].at + timedelta(minutes=2))
        life.clock = clock
        self.answer(life, answered)
        if cutoff is not None and answered >= cutoff:
            raise ValueError("answered after the end of the period")
        # the asker reads, rates and closes; some never come back and the platform closes
        if rng.random() < 0.88:
            closed = answered + _lognormal(rng, 18 * 60, 1.0)
            if cutoff is None or closed < cutoff:
                life.helpful = rng.choices((1, 2, 3, 4, 5), weights=(2, 4, 12, 38, 44))[0]
                life.referral_avoided = (not life.needs_visit) and (
                    rng.random() < AVOIDED_GIVEN_NO_VISIT
                )
                life.rated_at = life.closed_at = closed
                life.step(closed, Action.CLOSE, Status.CLOSED, life.asker_user, life.asker)
        else:
            closed = answered + timedelta(days=AUTOCLOSE_DAYS)
            if cutoff is None or closed < cutoff:
                life.closed_at = closed
                life.step(closed, Action.CLOSE, Status.CLOSED, None, None)

    def answer(self, life: Life, at: datetime) -> None:
        assert life.clock is not None and life.assignee is not None
        life.needs_visit = self.rng.random() < NEEDS_VISIT_SHARE
        life.step(at, Action.ANSWER, Status.ANSWERED, life.assignee, life.answer)
        life.first_answered_at = life.answered_at = at
        life.opinion_by = life.assignee


def _duration(life: Life) -> tuple[int | None, bool | None]:
    if life.first_answered_at is None or life.clock is None:
        return None, None
    elapsed = life.clock.elapsed(life.first_answered_at)
    return int(elapsed.total_seconds()), elapsed <= life.clock.target


def fold(life: Life, reference: str) -> DemoConsultation:
    """A life as the row the service would have left."""
    assert life.status is not None and life.clock is not None
    clock = life.clock
    seconds, within = _duration(life)
    t = life.topic
    opinion = life.answered_at is not None
    follow = "Review the response in one week and write back here." if opinion else None
    return DemoConsultation(
        reference=reference,
        status=life.status.value,
        mode=life.mode.value,
        urgency=life.urgency.value,
        patient=life.patient.key,
        consent=life.consent.key,
        asker=life.asker,
        asker_specialty=None,
        asker_user=life.asker_user,
        answer=life.answer,
        specialty_code=life.specialty,
        other_specialties=life.other_specialties,
        agreement=life.agreement,
        assignee=life.assignee,
        question=t.question,
        clinical_summary=t.summary,
        icd10_code=t.icd10,
        diagnosis=t.diagnosis,
        asked_at=life.asked_at,
        target_minutes=int(clock.target.total_seconds() // 60),
        paused_seconds=int(clock.paused_seconds),
        paused_since=clock.paused_since,
        due_at=clock.due_at(),
        escalation_level=life.escalation_level,
        route_reason=life.route_reason,
        first_answered_at=life.first_answered_at,
        first_answer_seconds=seconds,
        within_target=within,
        assessment=t.assessment if opinion else None,
        recommendations=t.recommendations if opinion else None,
        needs_visit=life.needs_visit if opinion else None,
        follow_up=follow,
        opinion_by=life.opinion_by,
        answered_at=life.answered_at,
        helpful=life.helpful,
        referral_avoided=life.referral_avoided,
        rated_at=life.rated_at,
        closed_at=life.closed_at,
        is_difficult=life.is_difficult,
        created_at=life.asked_at,
        updated_at=life.events[-1].at,
        version=max(1, len(life.events) - 1),
        events=tuple(life.events),
        messages=tuple(life.messages),
    )


def _at_hour(rng: random.Random, day: date) -> datetime:
    """An instant on ``day`` (China time): mostly working hours, a quarter at any hour."""
    working = rng.random() < 0.75
    minutes = rng.randrange(8 * 60, 18 * 60) if working else rng.randrange(24 * 60)
    return china_midnight(day) + timedelta(minutes=minutes)


def demo_day(at: datetime) -> date:
    """The day a demo world loaded at the instant ``at`` is generated for: the China date of
    ``at``, or the day before until 03:00 China time (when the last live case of the day has
    been asked), so that nothing in the world is after the load. A load between 00:00 and
    03:00 China time is the world of a load late the evening before, a few hours later."""
    return (at + CHINA - DAY_TURNS).date()


def live_from(as_of: date) -> datetime:
    """The first instant a world for ``as_of`` may be loaded at without holding the future:
    the last live case is asked then."""
    return cutoff_of(as_of) + DAY_TURNS


def cooperation_period(as_of: date) -> tuple[datetime, datetime]:
    """The demo's copy of the 2017 report's period: as long, ending the day before
    ``as_of`` (as the demo referrals)."""
    cutoff = cutoff_of(as_of)
    return cutoff - timedelta(days=SPAN_DAYS), cutoff


def difficult_period(year: int) -> tuple[datetime, datetime]:
    """The part of ``year`` inside the nine years of the 2024 report."""
    start = max(date(year, 1, 1), facts.TRUSTEESHIP_START)
    end = min(date(year + 1, 1, 1), facts.DIFFICULT_REPORTED)
    return china_midnight(start), china_midnight(end)


def consultations(world: World, rng: random.Random) -> None:
    """Rotas, expert accounts and skills, the 510 of the report, the difficult cases, the
    live cases of the day."""
    staff = expert_accounts(world, rng)
    skills(world, staff)
    indexes = rotas(world, staff, rng)
    b = Builder(world, staff, rng)
    start, cutoff = cooperation_period(world.as_of)
    rota_from = shift_start(world.as_of - timedelta(days=ROTA_PAST_DAYS))
    # the 510, denser towards the end as the cooperation grew
    weights = [w for *_, w in ROUTES]
    usable = SPAN_DAYS - 4
    for _ in range(facts.CONSULTATIONS_REPORTED):
        asker, answer, keys, _ = rng.choices(ROUTES, weights=weights)[0]
        topic = TOPIC_BY_KEY[rng.choice(keys)]
        day = start.date() + timedelta(days=1 + int(usable * math.sqrt(rng.random())))
        at = _at_hour(rng, day)
        life = b.start(topic, asker, answer, at, difficult=False)
        rota = indexes.get(topic.specialty) if answer == BCH and at >= rota_from else None
        b.history(life, rota, cutoff)
    # the difficult cases of BCH answering Baoding Children's, year by year
    d_weights = [w for _, w in DIFFICULT_TOPICS]
    recent: dict[str, list[DemoPatient]] = defaultdict(list)
    for year, _total, remote in facts.DIFFICULT_CASES:
        lo, hi = difficult_period(year)
        span = int((hi - lo).total_seconds() // 60)
        # in time order, so a child seen again was seen first before
        times = sorted(rng.randrange(span - 3 * 24 * 60) for _ in range(remote))
        for minutes in times:
            key = rng.choices(DIFFICULT_TOPICS, weights=d_weights)[0][0]
            topic = TOPIC_BY_KEY[key]
            at = lo + timedelta(minutes=minutes)
            earlier = recent[key]
            patient = None
            if earlier and rng.random() < REPEAT_PATIENT_SHARE:
                patient = rng.choice(earlier[-20:])
            life = b.start(topic, BDCH, BCH, at, difficult=True, patient=patient)
            if patient is None:
                earlier.append(life.patient)
            b.history(life, None, None)
    live(b, indexes, cutoff)
    lives = sorted(b.lives, key=lambda x: (x.asked_at, x.patient.key))
    # numbered as the service numbers them (year, then the row's id: the loader writes them in
    # this order into an empty table)
    for n, life in enumerate(lives, start=1):
        year = (life.asked_at + CHINA).year
        row = fold(life, f"C-{year}-{n:06d}")
        spec = b.asker_specialty(life.asker, life.topic)
        world.consultations.append(replace(row, asker_specialty=spec))
    world.patients.extend(b.people.patients)
    world.consents.extend(b.people.consents)


def live(b: Builder, indexes: dict[str, RotaIndex], cutoff: datetime) -> None:
    """Open cases of the day (asked at ``LIVE_HOURS`` China time, the last at 03:00; see
    ``demo_day``): one with the on-call expert of the demo specialty, one waiting in the
    haematology-oncology pool (released by the expert it was routed to), one waiting for the
    asker's reply."""
    load: dict[int, int] = {}
    waiting_at, pooled_at, night_at = (cutoff + timedelta(hours=h) for h in LIVE_HOURS)
    pneumonia, asthma = TOPIC_BY_KEY["pneumonia"], TOPIC_BY_KEY["asthma"]
    leukaemia = TOPIC_BY_KEY["all"]
    # waiting for the asker: the on-call expert asked for the X-ray
    waiting = b.start(
        asthma,
        BDCH,
        BCH,
        waiting_at,
        difficult=False,
        mode=Mode.WRITTEN,
        urgency=Urgency.ROUTINE,
    )
    b.ask(waiting, indexes[DEMO_SPECIALTY], load)
    asked_q = waiting.asked_at + timedelta(minutes=35)
    question, _ = CLARIFICATIONS[0]
    assert waiting.assignee is not None and waiting.clock is not None
    waiting.step(asked_q, Action.ASK_ASKER, Status.AWAITING_ASKER, waiting.assignee, BCH)
    waiting.messages.append(DemoMessage(asked_q, "question", waiting.assignee, BCH, question))
    waiting.clock = waiting.clock.pause(asked_q)
    # in the haematology-oncology pool: routed to who was on call, given back
    pooled = b.start(
        leukaemia,
        BDCH,
        BCH,
        pooled_at,
        difficult=False,
        mode=Mode.WRITTEN,
        urgency=Urgency.ROUTINE,
    )
    b.ask(pooled, indexes["ped_hem_onc"], load)
    if pooled.status == Status.ASSIGNED:
        pooled.step(
            pooled.asked_at + timedelta(minutes=20),
            Action.RELEASE,
            Status.POOL,
            pooled.assignee,
            BCH,
            RELEASE_REASON,
        )
        pooled.assignee = None
    # the story: a child with pneumonia at 3 a.m., with the expert on call
    night = b.start(
        pneumonia,
        BDCH,
        BCH,
        night_at,
        difficult=False,
        mode=Mode.WRITTEN,
        urgency=Urgency.ROUTINE,
    )
    b.ask(night, indexes[DEMO_SPECIALTY], load)
