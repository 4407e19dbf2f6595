"""Build the demo world from a seed: pure, deterministic, no database.

Each step draws from its own ``random.Random`` seeded with the world seed and the step's
name, so adding a step (or changing one) never shifts what the other steps produce.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

from medcircle.demo import consultations as consult
from medcircle.demo import dispatch as dispatch_setup
from medcircle.demo import facts
from medcircle.demo import pools as pool_history
from medcircle.demo import referrals as care
from medcircle.demo import visits as visit_history
from medcircle.demo.world import (
    DEFAULT_SEED,
    DemoAgreement,
    DemoAlliance,
    DemoCentre,
    DemoDepartment,
    DemoFramework,
    DemoGoal,
    DemoInstitution,
    DemoInstitutionName,
    DemoMember,
    DemoPractitioner,
    DemoUser,
    World,
)
from medcircle.kit import clock
from medcircle.registry.domain import SPECIALTY_BY_CODE

Step = Callable[[World, random.Random], None]

RECORDED_ON = date(2015, 1, 1)
FRAMEWORK_BJ_HE = "BJ-HE-2015"
FRAMEWORK_BJ_BD = "BJ-BD-2017"
TRUSTEESHIP_CODE = "BCH-BDCH-T2015"
ALLIANCE_CODE = "BDPMA"
ALLIANCE_SIZE = 133
MEMBERS_WHO_LEFT = 5
LAST_JOIN = date(2023, 12, 31)
LAST_LEAVE = date(2025, 12, 31)
# Service departments have no beds of their own.
NO_BEDS = frozenset({"anaesthesiology", "radiology", "laboratory", "pathology"})


def rng_for(seed: int, step: str) -> random.Random:
    """The random source of one step (string seeds hash the same in every process)."""
    return random.Random(f"medcircle-demo:{seed}:{step}")


def short(code: str) -> tuple[str, str]:
    return facts.SHORT_NAMES[code]


def _hospital(f: facts.HospitalFact) -> DemoInstitution:
    return DemoInstitution(
        code=f.code,
        name_zh=f.name_zh,
        name_en=f.name_en,
        level=f.level,
        grade=f.grade,
        type=f.type,
        division_code=f.division_code,
        latitude=f.latitude,
        longitude=f.longitude,
        address=f.address,
        bed_count=f.bed_count,
        is_synthetic=False,
        recorded_on=RECORDED_ON,
    )


def _departments(
    inst: str, specialties: tuple[str, ...], rng: random.Random
) -> list[DemoDepartment]:
    out = []
    for code in specialties:
        spec = SPECIALTY_BY_CODE[code]
        beds = None if code in NO_BEDS else rng.randrange(20, 81, 5)
        out.append(DemoDepartment(inst, code, spec.name_zh, spec.name_en, beds))
    return out


def real_hospitals(world: World, rng: random.Random) -> None:
    """The 12 Beijing hospitals and the Baoding hospitals they support, with departments."""
    for f in facts.BEIJING_HOSPITALS + facts.BAODING_HOSPITALS:
        world.institutions.append(_hospital(f))
        world.departments.extend(_departments(f.code, f.specialties, rng))


def _date_between(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def agreements(world: World, rng: random.Random) -> None:
    """Framework agreements, the trusteeship with its name change, the 2017 pairings, goals."""
    world.frameworks.append(
        DemoFramework(
            code=FRAMEWORK_BJ_HE,
            title_zh="北京市—河北省医疗卫生协同发展合作框架协议",
            title_en="Beijing–Hebei framework agreement on coordinated development of "
            "medical and health services",
            party_a="北京市人民政府",
            party_a_division_code="110000",
            party_b="河北省人民政府",
            party_b_division_code="130000",
            signed_on=facts.FRAMEWORK_2015_SIGNED,
            starts_on=facts.FRAMEWORK_2015_SIGNED,
            ends_on=None,
            summary="Beijing hospitals support Hebei hospitals under the Beijing–Tianjin–Hebei "
            "coordinated development strategy; the first inter-provincial trusteeship of a "
            "public hospital (Baoding Children's Hospital) runs under it.",
        )
    )
    world.frameworks.append(
        DemoFramework(
            code=FRAMEWORK_BJ_BD,
            title_zh="北京市—保定市医疗卫生协同发展框架协议",
            title_en="Beijing–Baoding framework agreement on coordinated development of "
            "medical and health services",
            party_a="北京市人民政府",
            party_a_division_code="110000",
            party_b="保定市人民政府",
            party_b_division_code="130600",
            signed_on=facts.FRAMEWORK_2017_SIGNED,
            starts_on=facts.PAIRINGS_START,
            ends_on=None,
            summary="Five Beijing Tertiary A hospitals support five Baoding hospitals on two to "
            "four specialties each for three to five years; by 2020 the supported hospitals "
            "are to lead regional medical centres.",
        )
    )
    _trusteeship(world)
    for p in facts.PAIRINGS:
        _pairing(world, rng, p)
    _exchange(world)


def _trusteeship(world: World) -> None:
    bdch = facts.BAODING_CHILDRENS
    terms = (
        (TRUSTEESHIP_CODE, date(2015, 5, 20), facts.TRUSTEESHIP_START, date(2020, 6, 1)),
        ("BCH-BDCH-T2020", date(2020, 5, 15), date(2020, 6, 1), date(2025, 6, 1)),
        ("BCH-BDCH-T2025", date(2025, 5, 15), date(2025, 6, 1), date(2030, 6, 1)),
    )
    for n, (code, signed, start, end) in enumerate(terms, start=1):
        world.agreements.append(
            DemoAgreement(
                code=code,
                framework=FRAMEWORK_BJ_HE,
                kind="trusteeship",
                supporting=facts.BEIJING_CHILDRENS,
                supported=bdch,
                title_zh=f"北京儿童医院托管保定市儿童医院协议（第{n}期）",
                title_en=f"Trusteeship of Baoding Children's Hospital by Beijing Children's "
                f"Hospital (term {n})",
                signed_on=signed,
                starts_on=start,
                ends_on=end,
                terminated_on=None,
                licensed_name_zh="北京儿童医院保定医院",
                licensed_name_en="Beijing Children's Hospital Baoding Hospital",
                notes=(
                    f"Before the trusteeship the hospital had {facts.BDCH_BEDS_BEFORE} beds and "
                    "600–800 outpatient visits a day; Beijing experts work there daily as "
                    "chief physicians and train local staff."
                    if n == 1
                    else "Renewal of the trusteeship on the same terms."
                ),
                specialties=(),
            )
        )
    world.institution_names.extend(
        [
            DemoInstitutionName(
                bdch,
                facts.BDCH_FORMER_NAME_ZH,
                facts.BDCH_FORMER_NAME_EN,
                None,
                facts.TRUSTEESHIP_START,
                "Licensed name before the trusteeship",
                None,
            ),
            DemoInstitutionName(
                bdch,
                "北京儿童医院保定医院",
                "Beijing Children's Hospital Baoding Hospital",
                facts.TRUSTEESHIP_START,
                None,
                "Name added to the licence under the trusteeship of Beijing Children's Hospital",
                TRUSTEESHIP_CODE,
            ),
        ]
    )
    goals = (
        (
            TRUSTEESHIP_CODE,
            "日门诊量由600–800人次提高到1,600人次以上",
            "Raise daily outpatient visits from 600–800 to more than 1,600",
            date(2017, 6, 30),
            "achieved",
            "1,600–1,800 visits a day in 2017.",
            date(2017, 5, 31),
        ),
        (
            TRUSTEESHIP_CODE,
            "血液肿瘤科医生由4–5名增加到10名以上",
            "Grow the haematology-oncology team from 4–5 doctors to more than 10",
            date(2020, 6, 1),
            "achieved",
            "Team of eleven doctors, led by a local department director.",
            date(2019, 12, 20),
        ),
        (
            "BCH-BDCH-T2020",
            "建成百级层流病房并独立开展造血干细胞移植",
            "Open class-100 cleanrooms and perform stem cell transplants independently",
            date(2023, 6, 1),
            "achieved",
            "One class-100 and one class-1000 cleanroom in use; rooms pooled with Beijing.",
            date(2022, 10, 15),
        ),
        (
            "BCH-BDCH-T2025",
            "本地团队独立诊治疑难危重病例，外转北京比例再降低一半",
            "Local teams treat difficult cases on their own; halve transfers to Beijing again",
            date(2028, 12, 31),
            "in_progress",
            None,
            None,
        ),
    )
    for code, zh, en, due, status, note, achieved in goals:
        world.goals.append(
            DemoGoal(code, zh, en, due, status, note, achieved, achieved or date(2025, 6, 1))
        )


def _pairing(world: World, rng: random.Random, p: facts.PairingFact) -> None:
    a_zh, a_en = short(p.supporting)
    b_zh, b_en = short(p.supported)
    code = f"{p.supporting}-{p.supported}-2017"
    start = facts.PAIRINGS_START
    end = start.replace(year=start.year + p.years)
    world.agreements.append(
        DemoAgreement(
            code=code,
            framework=FRAMEWORK_BJ_BD,
            kind="specialty_support",
            supporting=p.supporting,
            supported=p.supported,
            title_zh=f"{a_zh}支持{b_zh}专科建设协议",
            title_en=f"{a_en} supports {b_en}: specialty support",
            signed_on=facts.FRAMEWORK_2017_SIGNED,
            starts_on=start,
            ends_on=end,
            terminated_on=None,
            licensed_name_zh=None,
            licensed_name_en=None,
            notes=None,
            specialties=p.specialties,
        )
    )
    centre_due = date(2020, 12, 31)
    if p.outcome == "achieved":
        achieved: date | None = _date_between(rng, date(2019, 6, 1), date(2020, 12, 1))
        status, note = "achieved", "Recognised as a regional medical centre by the province."
    elif p.outcome == "missed":
        achieved, status = None, "missed"
        note = "Not recognised by the end of the term; case volume below the threshold."
    else:
        achieved, status = None, "in_progress"
        note = "Application submitted; recognition pending."
    updated = achieved or date(2021, 3, 1)
    world.goals.append(
        DemoGoal(code, p.goal_zh, p.goal_en, centre_due, status, note, achieved, updated)
    )
    leaders = rng.randint(3, 8)
    roll = rng.random()
    t_status = "achieved" if roll < 0.6 else ("in_progress" if roll < 0.85 else "missed")
    t_achieved = _date_between(rng, start, end - timedelta(days=30)) if roll < 0.6 else None
    world.goals.append(
        DemoGoal(
            code,
            f"培养本地学科骨干{leaders}名",
            f"Train {leaders} local specialists to lead their departments",
            end,
            t_status,
            None,
            t_achieved,
            t_achieved or end,
        )
    )
    if p.renewal is None:
        return
    r_start, r_end = p.renewal
    r_code = f"{p.supporting}-{p.supported}-{r_start.year}"
    world.agreements.append(
        DemoAgreement(
            code=r_code,
            framework=FRAMEWORK_BJ_BD,
            kind="specialty_support",
            supporting=p.supporting,
            supported=p.supported,
            title_zh=f"{a_zh}支持{b_zh}专科建设协议（续签）",
            title_en=f"{a_en} supports {b_en}: specialty support (renewal)",
            signed_on=r_start - timedelta(days=rng.randint(10, 40)),
            starts_on=r_start,
            ends_on=r_end,
            terminated_on=p.renewal_terminated_on,
            licensed_name_zh=None,
            licensed_name_en=None,
            notes=(
                "Ended early by mutual agreement; support continues through the alliance."
                if p.renewal_terminated_on
                else None
            ),
            specialties=p.specialties,
        )
    )
    techniques = rng.randint(3, 10)
    due = r_end - timedelta(days=rng.randint(60, 180))
    world.goals.append(
        DemoGoal(
            r_code,
            f"独立开展新技术、新项目{techniques}项",
            f"Perform {techniques} new techniques independently",
            due,
            "dropped" if p.renewal_terminated_on else "in_progress",
            None,
            None,
            p.renewal_terminated_on or r_start,
        )
    )


def _exchange(world: World) -> None:
    code = "BOGH-BDMCH-2019"
    world.agreements.append(
        DemoAgreement(
            code=code,
            framework=FRAMEWORK_BJ_BD,
            kind="departmental_exchange",
            supporting="BOGH",
            supported="BDMCH",
            title_zh="北京妇产医院与保定市妇幼保健院产科、新生儿科交流协议",
            title_en="Beijing Obstetrics and Gynecology Hospital and Baoding Maternal and Child "
            "Health Hospital: obstetrics and neonatology exchange",
            signed_on=date(2019, 2, 15),
            starts_on=date(2019, 3, 1),
            ends_on=date(2022, 3, 1),
            terminated_on=None,
            licensed_name_zh=None,
            licensed_name_en=None,
            notes=None,
            specialties=("obstetrics", "neonatology"),
        )
    )
    world.goals.append(
        DemoGoal(
            code,
            "建立危重孕产妇和新生儿转诊绿色通道",
            "Open a fast track for transferring critically ill mothers and newborns",
            date(2020, 3, 1),
            "achieved",
            None,
            date(2019, 11, 1),
            date(2019, 11, 1),
        )
    )


def _jitter(rng: random.Random, lat: float, lon: float, spread: float) -> tuple[float, float]:
    return (
        round(lat + rng.uniform(-spread, spread), 4),
        round(lon + rng.uniform(-spread, spread) * 1.3, 4),
    )


def alliance(world: World, rng: random.Random) -> None:
    """The Baoding Pediatric Medical Alliance: 133 members over Baoding, and its 8 centres."""
    lead = facts.BAODING_CHILDRENS
    founded = facts.ALLIANCE_FOUNDED
    world.alliances.append(
        DemoAlliance(
            code=ALLIANCE_CODE,
            name_zh="保定市儿科医疗联合体",
            name_en="Baoding Pediatric Medical Alliance",
            lead=lead,
            founded_on=founded,
            description="Led by Beijing Children's Hospital Baoding Hospital since 2017; "
            "county hospitals, township health centres and community health centres across "
            "Baoding share diagnostics, training and critical care transfer.",
        )
    )
    members = [DemoMember(ALLIANCE_CODE, lead, founded, None)]
    members.append(DemoMember(ALLIANCE_CODE, "BDMCH", founded, None))
    county_hospitals: list[str] = []
    for c in facts.BAODING_COUNTIES:
        tag = facts.COUNTY_TAGS[c.code]
        code = f"BD-{tag}-H"
        lat, lon = _jitter(rng, c.latitude, c.longitude, 0.01)
        kind_zh = "区级综合医院" if c.urban else "县级综合医院"
        world.institutions.append(
            DemoInstitution(
                code=code,
                name_zh=f"（示例）{c.name_zh}某{kind_zh}",
                name_en=f"(synthetic) {c.name_en} general hospital",
                level="secondary",
                grade=rng.choice(("A", "A", "B")),
                type="general",
                division_code=c.code,
                latitude=lat,
                longitude=lon,
                address=None,
                bed_count=rng.randrange(200, 601, 10),
                is_synthetic=True,
                recorded_on=founded,
            )
        )
        depts = ("general_practice", "ped_respiratory", "neonatology", "emergency")
        world.departments.extend(_departments(code, depts, rng))
        county_hospitals.append(code)
        joined = founded if rng.random() < 0.7 else _date_between(rng, founded, date(2018, 12, 31))
        members.append(DemoMember(ALLIANCE_CODE, code, joined, None))

    primary_total = ALLIANCE_SIZE - len(members)
    per_county = dict.fromkeys((c.code for c in facts.BAODING_COUNTIES), 2)
    extra = primary_total - sum(per_county.values())
    weights = [c.weight for c in facts.BAODING_COUNTIES]
    for c in rng.choices(facts.BAODING_COUNTIES, weights=weights, k=extra):
        per_county[c.code] += 1
    primary: list[DemoMember] = []
    span = (LAST_JOIN - founded).days
    for c in facts.BAODING_COUNTIES:
        tag = facts.COUNTY_TAGS[c.code]
        for n in range(1, per_county[c.code] + 1):
            code = f"BD-{tag}-{n:02d}"
            lat, lon = _jitter(rng, c.latitude, c.longitude, 0.06 if c.urban else 0.12)
            if c.urban:
                name_zh = f"（示例）{c.name_zh}某社区卫生服务中心{n}"
                name_en = f"(synthetic) {c.name_en} community health centre {n}"
            else:
                name_zh = f"（示例）{c.name_zh}某镇卫生院{n}"
                name_en = f"(synthetic) {c.name_en} township health centre {n}"
            world.institutions.append(
                DemoInstitution(
                    code=code,
                    name_zh=name_zh,
                    name_en=name_en,
                    level="primary",
                    grade=rng.choice(("A", "B", "C", "none")),
                    type="primary_care",
                    division_code=c.code,
                    latitude=lat,
                    longitude=lon,
                    address=None,
                    bed_count=rng.randrange(10, 61, 5),
                    is_synthetic=True,
                    recorded_on=founded,
                )
            )
            world.departments.extend(_departments(code, ("general_practice",), rng))
            # most joined in the first two years, a few came later
            joined = founded + timedelta(days=int(rng.betavariate(1.2, 4.0) * span))
            primary.append(DemoMember(ALLIANCE_CODE, code, joined, None))
    leavers = set(rng.sample(range(len(primary)), MEMBERS_WHO_LEFT))
    for i in sorted(leavers):
        m = primary[i]
        earliest = m.joined_on + timedelta(days=365)
        left = _date_between(rng, earliest, max(earliest, LAST_LEAVE))
        primary[i] = DemoMember(m.alliance, m.institution, m.joined_on, left)
    world.members.extend(members + primary)

    for kind, host, name_zh, name_en, established in facts.ALLIANCE_CENTRES:
        world.centres.append(
            DemoCentre(
                ALLIANCE_CODE,
                host or rng.choice(county_hospitals),
                kind,
                name_zh,
                name_en,
                established,
            )
        )


def _person(rng: random.Random) -> tuple[str, str]:
    surname_zh, surname_en = rng.choice(facts.SURNAMES)
    chars = rng.sample(facts.GIVEN_CHARS, rng.choice((1, 2, 2, 2)))
    given_zh = "".join(c for c, _ in chars)
    given_en = "".join(p for _, p in chars).capitalize()
    return surname_zh + given_zh, f"{surname_en} {given_en}"


def _allocate(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Split ``total`` in proportion to ``weights`` (largest remainders, ties by key order)."""
    whole = sum(weights.values())
    shares = {k: total * w / whole for k, w in weights.items()}
    counts = {k: int(s) for k, s in shares.items()}
    rest = total - sum(counts.values())
    for k in sorted(shares, key=lambda k: counts[k] - shares[k])[:rest]:
        counts[k] += 1
    return counts


def experts(world: World, rng: random.Random) -> None:
    """About 400 Beijing experts (synthetic people) across their hospitals' specialties."""
    hospitals = {f.code: f for f in facts.BEIJING_HOSPITALS}
    counts = _allocate(facts.EXPERT_COUNT, {c: f.expert_weight for c, f in hospitals.items()})
    titles = [t for t, _ in facts.EXPERT_TITLE_WEIGHTS]
    title_weights = [w for _, w in facts.EXPERT_TITLE_WEIGHTS]
    used: set[str] = set()
    for code, f in hospitals.items():
        spec_weights = [1 if s in NO_BEDS else 4 for s in f.specialties]
        for n in range(1, counts[code] + 1):
            name_zh, name_en = _person(rng)
            while name_zh in used:
                name_zh, name_en = _person(rng)
            used.add(name_zh)
            if code == facts.BEIJING_CHILDRENS and n == 1:
                # the demo expert login: a chief of haematology-oncology
                specialty, title = "ped_hem_onc", "chief"
            else:
                specialty = rng.choices(f.specialties, weights=spec_weights)[0]
                title = rng.choices(titles, weights=title_weights)[0]
            world.practitioners.append(
                DemoPractitioner(f"{code}-{n:03d}", code, specialty, name_zh, name_en, title)
            )


EXPERT_LOGIN_PRACTITIONER = f"{facts.BEIJING_CHILDRENS}-001"
CLINICIAN_INSTITUTION = "BD-LS-H"
# the two ends of the referral story: a county hospital of the paediatric alliance and
# Beijing Children's Hospital
COUNTY_INSTITUTION = "BD-TX-H"
# Local hospitals have younger teams than the Beijing experts who visit them.
LOCAL_TITLE_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("chief", 10),
    ("associate_chief", 25),
    ("attending", 40),
    ("resident", 25),
)
# After years of mentoring the haematology-oncology team of Baoding Children's has grown
# from 4–5 doctors to more than 10.
BDCH_HEM_ONC_DOCTORS = 11


def local_staff(world: World, rng: random.Random) -> None:
    """Doctors of the Baoding hospitals and county hospital members (synthetic people)."""
    used = {p.name_zh for p in world.practitioners}
    titles = [t for t, _ in LOCAL_TITLE_WEIGHTS]
    weights = [w for _, w in LOCAL_TITLE_WEIGHTS]
    staffed = {f.code for f in facts.BAODING_HOSPITALS} | {
        i.code for i in world.institutions if i.is_synthetic and i.level == "secondary"
    }
    numbers: dict[str, int] = {}
    for dept in world.departments:
        if dept.institution not in staffed:
            continue
        inst = dept.institution
        if (inst, dept.specialty_code) == (facts.BAODING_CHILDRENS, "ped_hem_onc"):
            size = BDCH_HEM_ONC_DOCTORS
        elif inst.startswith("BD-"):
            size = rng.randint(1, 3)
        else:
            size = rng.randint(2, 5)
        for k in range(size):
            name_zh, name_en = _person(rng)
            while name_zh in used:
                name_zh, name_en = _person(rng)
            used.add(name_zh)
            numbers[inst] = numbers.get(inst, 0) + 1
            # each team has one senior doctor at its head
            if k == 0 and size > 2:
                title = rng.choice(("chief", "associate_chief"))
            else:
                title = rng.choices(titles, weights=weights)[0]
            world.practitioners.append(
                DemoPractitioner(
                    f"{inst}-{numbers[inst]:03d}",
                    inst,
                    dept.specialty_code,
                    name_zh,
                    name_en,
                    title,
                )
            )


def users(world: World, rng: random.Random) -> None:
    """One login per role, all with the published demo password."""
    expert = next(p for p in world.practitioners if p.key == EXPERT_LOGIN_PRACTITIONER)
    clinician = next(
        p
        for p in world.practitioners
        if p.institution == CLINICIAN_INSTITUTION and p.specialty_code == "ped_respiratory"
    )
    county = next(
        p
        for p in world.practitioners
        if p.institution == COUNTY_INSTITUTION and p.specialty_code == "ped_respiratory"
    )
    bch_doctor = next(
        p
        for p in world.practitioners
        if p.institution == facts.BEIJING_CHILDRENS
        and p.specialty_code == "ped_cardiology"
        and p.key != EXPERT_LOGIN_PRACTITIONER
    )
    created = facts.PAIRINGS_START
    bch, bdch = facts.BEIJING_CHILDRENS, facts.BAODING_CHILDRENS
    rows = (
        ("admin", "Platform administrator (demo)", bch, "platform_admin", "en", None),
        ("analyst", "卫生健康委分析员（示例）", bch, "commission_analyst", "zh_Hans", None),
        ("alliance", "医联体办公室（示例）", bdch, "alliance_admin", "zh_Hans", None),
        ("office", "医务处（示例）", bdch, "institution_admin", "zh_Hans", None),
        ("expert", expert.name_zh, bch, "expert", "zh_Hans", expert.key),
        (
            "clinician",
            clinician.name_zh,
            CLINICIAN_INSTITUTION,
            "clinician",
            "zh_Hans",
            clinician.key,
        ),
        ("coordinator", "移植仓协调员（示例）", bdch, "coordinator", "zh_Hans", None),
        ("auditor", "Privacy officer (demo)", bch, "auditor", "en", None),
        ("county", county.name_zh, COUNTY_INSTITUTION, "clinician", "zh_Hans", county.key),
        ("bch", bch_doctor.name_zh, bch, "clinician", "zh_Hans", bch_doctor.key),
    )
    for username, display, inst, role, locale, practitioner in rows:
        world.users.append(
            DemoUser(username, display, inst, (role,), locale, practitioner, created)
        )


# The steps in order; later parts append theirs (each gets its own random source).
STEPS: tuple[tuple[str, Step], ...] = (
    ("hospitals", real_hospitals),
    ("agreements", agreements),
    ("alliance", alliance),
    ("experts", experts),
    ("local_staff", local_staff),
    ("users", users),
    ("referral_staff", care.staff),
    ("referrals", care.referrals),
    ("consultations", consult.consultations),
    ("visits", visit_history.visits),
    ("dispatch", dispatch_setup.experts),
    ("pools", pool_history.pools),
)


def generate(seed: int = DEFAULT_SEED, as_of: date | None = None) -> World:
    """The whole demo world for ``seed`` as of the day ``as_of`` (default: the demo day of
    now, ``consultations.demo_day``: today, China time, or yesterday before 03:00 China time,
    so that nothing in the world is after the load). The same seed and day always give the
    same world; another day moves the referral histories in time and leaves everything else
    as it is."""
    world = World(seed=seed, as_of=as_of or consult.demo_day(clock.now()))
    for name, step in STEPS:
        step(world, rng_for(seed, name))
    return world
