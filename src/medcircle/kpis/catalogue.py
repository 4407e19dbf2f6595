"""The indicators as data: what each measures, in what unit, from which records, and how it may
be broken down. Pure: the service computes them.

A region is a province-level division (``130000`` Hebei); the capital is ``110000`` Beijing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Unit(StrEnum):
    # a count per calendar day of the period
    PER_DAY = "per_day"
    # a share between 0 and 1
    SHARE = "share"
    # a count over the period
    COUNT = "count"
    # one count for each of another (e.g. referrals down for each referral up)
    RATIO = "ratio"
    # a mean duration, in minutes
    MINUTES = "minutes"
    # a mean duration, in days
    DAYS = "days"
    # a sum of money over the period, in yuan (the numerator in fen, the denominator the
    # records summed)
    YUAN = "yuan"


class Breakdown(StrEnum):
    MONTH = "month"
    INSTITUTION = "institution"
    # the calendar years of a range (the trend), with the agreements' starts marked
    YEAR = "year"
    # the institutions of each medical alliance, in the months they were members
    ALLIANCE = "alliance"
    # the specialty the records name (a visit's, a referral's receiving department's, a
    # consultation's pool)
    SPECIALTY = "specialty"


# every indicator has these; the others are declared with each
BASIC = (Breakdown.MONTH, Breakdown.INSTITUTION, Breakdown.YEAR)


class Scope(StrEnum):
    # about one institution at a time: a hospital sees its own
    INSTITUTION = "institution"
    # about a region's residents: the commission's view
    REGION = "region"


@dataclass(frozen=True)
class Indicator:
    slug: str
    name_zh: str
    name_en: str
    unit: Unit
    formula_zh: str
    formula_en: str
    source: str
    scope: Scope
    breakdowns: tuple[Breakdown, ...]


CAPITAL = "110000"

INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        slug="outpatient-visits-per-day",
        name_zh="日均门急诊人次",
        name_en="Daily outpatient visits",
        unit=Unit.PER_DAY,
        formula_zh="期间内开始的门诊和急诊就诊人次 ÷ 期间的日历天数",
        formula_en=("outpatient and emergency visits in the period ÷ calendar days of the period"),
        source="activity",
        scope=Scope.INSTITUTION,
        breakdowns=(*BASIC, Breakdown.ALLIANCE, Breakdown.SPECIALTY),
    ),
    Indicator(
        slug="outflow-share",
        name_zh="本地区居民占首都二级及以上医院出院人次的比例",
        name_en="Share of the region's residents among the capital's discharges",
        unit=Unit.SHARE,
        formula_zh=(
            "首都二级及以上医院期间内出院人次中常住该地区者 ÷ 这些医院期间内的全部出院人次"
        ),
        formula_en=(
            "discharges in the period from the capital's secondary-and-above hospitals of "
            "patients living in the region ÷ all their discharges in the period"
        ),
        source="activity",
        scope=Scope.REGION,
        breakdowns=(*BASIC, Breakdown.SPECIALTY),
    ),
    Indicator(
        slug="local-treatment-rate",
        name_zh="本地就诊率",
        name_en="Local treatment rate",
        unit=Unit.SHARE,
        formula_zh="该地区居民期间内在本地区机构的就诊和入院人次 ÷ 其在所有机构的就诊和入院人次",
        formula_en=(
            "visits and admissions in the period of the region's residents at institutions "
            "inside the region ÷ their visits and admissions at every institution"
        ),
        source="activity",
        scope=Scope.REGION,
        breakdowns=(*BASIC, Breakdown.SPECIALTY),
    ),
)


def _of_records(
    slug: str,
    zh: str,
    en: str,
    unit: Unit,
    formula_zh: str,
    formula_en: str,
    source: str,
    breakdowns: tuple[Breakdown, ...] = (*BASIC, Breakdown.ALLIANCE, Breakdown.SPECIALTY),
) -> Indicator:
    return Indicator(
        slug=slug,
        name_zh=zh,
        name_en=en,
        unit=unit,
        formula_zh=formula_zh,
        formula_en=formula_en,
        source=source,
        scope=Scope.INSTITUTION,
        breakdowns=breakdowns,
    )


def _visit_count(slug: str, zh: str, en: str, what_zh: str, what_en: str) -> Indicator:
    """An indicator of what visiting experts did, from the visit records."""
    return _of_records(
        slug,
        zh,
        en,
        Unit.COUNT,
        f"期间内开始的外派专家出诊记录中的{what_zh}（地区：出诊机构所在省份）",
        f"{what_en} of the visit records starting in the period (region: the province of the "
        "site visited)",
        "visits",
    )


INDICATORS += (
    _visit_count("out-calls", "外派出诊次数", "Out-calls", "记录数", "the number"),
    _visit_count(
        "expert-person-visits",
        "专家出诊人次（人·天）",
        "Expert person-visits",
        "在岗天数之和",
        "the expert-days on site",
    ),
    _visit_count(
        "patients-received",
        "外派专家接诊患者数",
        "Patients received by visiting experts",
        "接诊门诊患者数之和",
        "the outpatients seen",
    ),
    _visit_count(
        "visiting-operations",
        "外派专家手术台次",
        "Operations by visiting experts",
        "手术台次之和",
        "the operations performed",
    ),
)


INDICATORS += (
    _of_records(
        "referrals-up",
        "上转人次",
        "Referrals up",
        Unit.COUNT,
        "期间内（北京时间）提交的上转申请数（地区、机构：转出方）",
        "upward referrals submitted in the period, Beijing time (region and institution: the "
        "sending side)",
        "referrals",
    ),
    _of_records(
        "referrals-down",
        "下转人次",
        "Referrals down",
        Unit.COUNT,
        "期间内（北京时间）提交的下转申请数（地区、机构：接收方）",
        "downward referrals submitted in the period, Beijing time (region and institution: the "
        "receiving side)",
        "referrals",
    ),
    _of_records(
        "referral-down-up-ratio",
        "下转与上转之比",
        "Referrals down for each referral up",
        Unit.RATIO,
        "期间内下转人次 ÷ 上转人次（地区、机构：本地一方）",
        "referrals down ÷ referrals up in the period (region and institution: the local side)",
        "referrals",
    ),
    _of_records(
        "referral-wait-days",
        "上转等待天数（平均）",
        "Referral wait (mean days)",
        Unit.DAYS,
        "期间内提交并已预约的上转申请，从提交到预约就诊的天数之平均（地区、机构：转出方）",
        "the mean days from submission to the appointment of the upward referrals submitted in "
        "the period and given one (region and institution: the sending side)",
        "referrals",
    ),
    _of_records(
        "family-costs-avoided",
        "为患者家庭节省费用",
        "Family costs avoided",
        Unit.YUAN,
        "期间内（北京时间）提交、留在本地诊治的转诊（全部下转，及接收方给出本地方案的上转）"
        "为患者家庭估算节省的往返交通和住宿费用之和，单位元（地区、机构：本地一方）",
        "the travel and lodging costs families were estimated to avoid, in yuan, summed over "
        "the referrals submitted in the period, Beijing time, that kept care local (every "
        "referral down, and those up answered with a local plan; region and institution: the "
        "local side)",
        "referrals",
    ),
    _of_records(
        "remote-consultations",
        "远程会诊例数",
        "Remote consultations",
        Unit.COUNT,
        "期间内（北京时间）提出的远程会诊数（地区、机构：申请方）",
        "remote consultations asked in the period, Beijing time (region and institution: the "
        "asking side)",
        "consultations",
    ),
    _of_records(
        "consultation-answer-minutes",
        "会诊平均答复时长（分钟）",
        "Consultation answer time (mean minutes)",
        Unit.MINUTES,
        "期间内提出并已答复的会诊，从提出到首次答复的时长（不计暂停）之平均",
        "the mean time from asking to the first opinion (pauses left out) of the consultations "
        "asked in the period and answered",
        "consultations",
    ),
    _of_records(
        "consultation-within-target",
        "会诊按时答复率",
        "Consultations answered within target",
        Unit.SHARE,
        "期间内提出的会诊中在时限内首次答复的 ÷ 已有结论（按时或超时）的会诊",
        "consultations asked in the period first answered within their target ÷ those whose "
        "target was met or missed",
        "consultations",
    ),
)

INDICATORS += (
    _of_records(
        "cleanroom-wait-days",
        "层流仓等待天数（平均）",
        "Cleanroom wait (mean days)",
        Unit.DAYS,
        "期间内（北京时间）入仓者从登记候床到入仓的天数之平均（地区、机构：层流仓所在机构）",
        "the mean days from listing to admission of the patients admitted to a cleanroom in the "
        "period, Beijing time (region and institution: where the room is)",
        "pools",
        (*BASIC, Breakdown.ALLIANCE),
    ),
    _of_records(
        "cleanroom-occupancy",
        "层流仓占用率",
        "Cleanroom occupancy",
        Unit.SHARE,
        "期间内层流仓被入仓患者占用的天数 ÷ 池中层流仓的天数（自登记之日起）",
        "the days the cleanrooms were occupied by an admission in the period ÷ the days of the "
        "pools' cleanrooms (from the day each was registered)",
        "pools",
        (*BASIC, Breakdown.ALLIANCE),
    ),
)

BY_SLUG = {i.slug: i for i in INDICATORS}


def province_of(code: str) -> str:
    """The province-level division of a 6-digit division code."""
    return code[:2] + "0000"


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
