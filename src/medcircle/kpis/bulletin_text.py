"""The yearly bulletin as text: its figures told in sentences in the style of the programme's
own reports ("Altogether 12 hospitals in Beijing have taken part in the Beijing–Hebei medical
cooperation, making 24,435 out-calls. …"), in Simplified Chinese or English. Counts take their
plural, numbers are written the language's way, shares to one decimal, money in yuan (in
Chinese in 万元 from 10,000 yuan). A figure without records is said to be missing or left out,
never told as zero.

Pure: the figures come from ``medcircle.kpis.bulletin``, which reads them from the indicators.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from babel.numbers import format_decimal

from medcircle.kit import i18n
from medcircle.kit.i18n import gettext, ngettext
from medcircle.kpis.catalogue import BY_SLUG

# Babel's name of each locale, for writing numbers
_NUMBERS = {"zh_Hans": "zh_Hans_CN", "en": "en"}

# the one-character names (简称) of the province-level divisions, as in 京冀 (Beijing–Hebei)
SHORT_ZH = {
    "110000": "京",
    "120000": "津",
    "130000": "冀",
    "140000": "晋",
    "150000": "蒙",
    "210000": "辽",
    "220000": "吉",
    "230000": "黑",
    "310000": "沪",
    "320000": "苏",
    "330000": "浙",
    "340000": "皖",
    "350000": "闽",
    "360000": "赣",
    "370000": "鲁",
    "410000": "豫",
    "420000": "鄂",
    "430000": "湘",
    "440000": "粤",
    "450000": "桂",
    "460000": "琼",
    "500000": "渝",
    "510000": "川",
    "520000": "黔",
    "530000": "滇",
    "540000": "藏",
    "610000": "陕",
    "620000": "甘",
    "630000": "青",
    "640000": "宁",
    "650000": "新",
    "710000": "台",
    "810000": "港",
    "820000": "澳",
}

# the indicators the bulletin tells, in the order of its footnotes
SLUGS = (
    "out-calls",
    "expert-person-visits",
    "patients-received",
    "visiting-operations",
    "remote-consultations",
    "referrals-up",
    "referrals-down",
    "family-costs-avoided",
    "outflow-share",
    "local-treatment-rate",
    "cleanroom-wait-days",
    "cleanroom-occupancy",
)


@dataclass(frozen=True)
class Month:
    key: str
    out_calls: int
    referrals_up: int
    referrals_down: int


@dataclass(frozen=True)
class Figures:
    """A region's year in the care circle. The counts are of records (0: none recorded); a
    share or a mean is None when there was nothing to take it of."""

    year: int
    region: str
    region_zh: str
    region_en: str
    institutions: int
    out_calls: int
    person_visits: int
    patients: int
    operations: int
    consultations: int
    referrals_up: int
    referrals_down: int
    # the referrals that kept care local (and have an estimate), and the travel and lodging
    # costs their families were estimated to avoid, in yuan
    kept_local: int
    costs_avoided_yuan: float
    # the share of the region's residents among the capital's discharges, year by year up to
    # ``year`` (None: no discharges imported for that year)
    outflow: tuple[tuple[int, float | None], ...]
    local_rate: float | None
    cleanroom_admissions: int
    cleanroom_wait_days: float | None
    cleanroom_occupancy: float | None
    months: tuple[Month, ...]


@contextmanager
def speaking(locale: str) -> Iterator[None]:
    """Translate in ``locale`` for the time of the block (the reader's language after)."""
    before = i18n.get_locale()
    i18n.set_locale(locale)
    try:
        yield
    finally:
        i18n.set_locale(before)


def number(value: int) -> str:
    """A count the current language's way (24,435)."""
    return str(format_decimal(value, locale=_NUMBERS[i18n.get_locale()]))


def decimal(value: float) -> str:
    """A value to one decimal (a share in percent, a mean in days)."""
    return str(
        format_decimal(round(value, 1), format="#,##0.0", locale=_NUMBERS[i18n.get_locale()])
    )


def percent(share: float) -> str:
    return decimal(share * 100)


def money(yuan: float) -> str:
    """An amount the current language's way: in Chinese in 万元 to one decimal from 10,000
    yuan (123.5万元), else in whole yuan (1,234,567 yuan)."""
    if i18n.get_locale() != "en" and yuan >= 10_000:
        return gettext("%(num)s ten thousand yuan", num=decimal(yuan / 10_000))
    return gettext("%(num)s yuan", num=number(round(yuan)))


def region_name(f: Figures) -> str:
    return f.region_en if i18n.get_locale() == "en" else f.region_zh


def pair(f: Figures) -> str:
    """Beijing–Hebei (京冀)."""
    short = f.region_en if i18n.get_locale() == "en" else SHORT_ZH.get(f.region, f.region_zh)
    return gettext("Beijing–%(region)s", region=short)


def title(f: Figures) -> str:
    return gettext(
        "The %(pair)s care circle: yearly bulletin %(year)s", pair=pair(f), year=str(f.year)
    )


def _joined(first: str, second: str | None) -> str:
    if second is None:
        return gettext("%(clause)s.", clause=first)
    return gettext("%(first)s, and %(second)s.", first=first, second=second)


def _visits(f: Figures) -> list[str]:
    """Who took part, their out-calls, days on site and operations."""
    region, year = region_name(f), str(f.year)
    if not f.out_calls:
        return [
            gettext(
                "No expert out-calls to %(region)s were recorded in %(year)s.",
                region=region,
                year=year,
            )
        ]
    calls = ngettext(
        "making %(num)s out-call",
        "making %(num)s out-calls",
        f.out_calls,
        num=number(f.out_calls),
    )
    if f.institutions:
        first = ngettext(
            "Altogether %(num)s hospital in Beijing has taken part in the %(pair)s medical "
            "cooperation, %(calls)s.",
            "Altogether %(num)s hospitals in Beijing have taken part in the %(pair)s medical "
            "cooperation, %(calls)s.",
            f.institutions,
            num=number(f.institutions),
            pair=pair(f),
            calls=calls,
        )
    else:
        first = ngettext(
            "Visiting experts made %(num)s out-call to %(region)s.",
            "Visiting experts made %(num)s out-calls to %(region)s.",
            f.out_calls,
            num=number(f.out_calls),
            region=region,
        )
    days = ngettext(
        "Their experts worked %(num)s expert-day on site",
        "Their experts worked %(num)s expert-days on site",
        f.person_visits,
        num=number(f.person_visits),
    )
    operations = (
        ngettext(
            "performed %(num)s operation",
            "performed %(num)s operations",
            f.operations,
            num=number(f.operations),
        )
        if f.operations
        else None
    )
    return [first, _joined(days, operations)]


def _patients(f: Figures) -> list[str]:
    """The patients the visiting experts received and the remote consultations held."""
    patients = (
        ngettext(
            "A total number of %(num)s patient was received",
            "A total number of %(num)s patients were received",
            f.patients,
            num=number(f.patients),
        )
        if f.out_calls
        else None
    )
    consultations = (
        ngettext(
            "%(num)s remote consultation was held",
            "%(num)s remote consultations were held",
            f.consultations,
            num=number(f.consultations),
        )
        if f.consultations
        else None
    )
    if patients is None:
        return [] if consultations is None else [_joined(consultations, None)]
    return [_joined(patients, consultations)]


def _referrals(f: Figures) -> list[str]:
    if not (f.referrals_up or f.referrals_down):
        return [
            gettext(
                "No referrals of %(region)s were recorded in %(year)s.",
                region=region_name(f),
                year=str(f.year),
            )
        ]
    up = ngettext(
        "A total of %(num)s referral was made up to higher-level hospitals",
        "A total of %(num)s referrals were made up to higher-level hospitals",
        f.referrals_up,
        num=number(f.referrals_up),
    )
    down = gettext("%(num)s down to local hospitals", num=number(f.referrals_down))
    return [_joined(up, down), *_costs_avoided(f)]


def _costs_avoided(f: Figures) -> list[str]:
    """What the families saved by the referrals that kept care local (left out when none
    has an estimate)."""
    if not f.kept_local:
        return []
    return [
        ngettext(
            "Keeping care local through %(num)s referral saved families an estimated "
            "%(amount)s in travel and lodging.",
            "Keeping care local through %(num)s referrals saved families an estimated "
            "%(amount)s in travel and lodging.",
            f.kept_local,
            num=number(f.kept_local),
            amount=money(f.costs_avoided_yuan),
        )
    ]


def trend(outflow: tuple[tuple[int, float | None], ...], year: int) -> str:
    """How the share went from the first year with data to ``year``: ``fell``, ``rose``,
    ``unchanged`` (to one decimal), ``only`` (the year alone has data) or ``none`` (the year
    has none)."""
    known = [(y, v) for y, v in outflow if v is not None and y <= year]
    if not known or known[-1][0] != year:
        return "none"
    if len(known) == 1:
        return "only"
    first, last = round(known[0][1] * 100, 1), round(known[-1][1] * 100, 1)
    if last < first:
        return "fell"
    return "rose" if last > first else "unchanged"


def _outflow(f: Figures) -> list[str]:
    region, year = region_name(f), str(f.year)
    how = trend(f.outflow, f.year)
    if how == "none":
        return [
            gettext(
                "No discharges of the secondary-level or above hospitals in Beijing were "
                "imported for %(year)s, so the proportion of %(region)s patients among them "
                "is not known.",
                region=region,
                year=year,
            )
        ]
    known = [(y, v) for y, v in f.outflow if v is not None]
    (first_year, first), (_, last) = known[0], known[-1]
    assert first is not None and last is not None
    params = {
        "region": region,
        "year": year,
        "first_year": str(first_year),
        "first": percent(first),
        "last": percent(last),
    }
    if how == "only":
        text = gettext(
            "The proportion of %(region)s patients released from secondary-level or above "
            "hospitals in Beijing was %(last)s percent in %(year)s.",
            region=region,
            year=year,
            last=params["last"],
        )
    elif how == "fell":
        text = gettext(
            "The proportion of %(region)s patients released from secondary-level or above "
            "hospitals in Beijing decreased from %(first)s percent in %(first_year)s to "
            "%(last)s percent in %(year)s.",
            **params,
        )
    elif how == "rose":
        text = gettext(
            "The proportion of %(region)s patients released from secondary-level or above "
            "hospitals in Beijing rose from %(first)s percent in %(first_year)s to %(last)s "
            "percent in %(year)s.",
            **params,
        )
    else:
        text = gettext(
            "The proportion of %(region)s patients released from secondary-level or above "
            "hospitals in Beijing was %(first)s percent in %(first_year)s and still %(last)s "
            "percent in %(year)s.",
            **params,
        )
    return [text]


def _local_and_cleanrooms(f: Figures) -> list[str]:
    region, year = region_name(f), str(f.year)
    out = []
    if f.local_rate is not None:
        out.append(
            gettext(
                "In %(year)s, %(share)s percent of the visits and admissions of %(region)s "
                "residents took place at institutions in the province (the local treatment "
                "rate).",
                year=year,
                share=percent(f.local_rate),
                region=region,
            )
        )
    if f.cleanroom_admissions and f.cleanroom_wait_days is not None:
        out.append(
            ngettext(
                "The cleanrooms in %(region)s admitted %(num)s patient after a mean wait of "
                "%(days)s days.",
                "The cleanrooms in %(region)s admitted %(num)s patients after a mean wait of "
                "%(days)s days.",
                f.cleanroom_admissions,
                num=number(f.cleanroom_admissions),
                region=region,
                days=decimal(f.cleanroom_wait_days),
            )
        )
    if f.cleanroom_occupancy is not None:
        out.append(
            gettext(
                "The cleanrooms were occupied on %(share)s percent of their days.",
                share=percent(f.cleanroom_occupancy),
            )
        )
    return out


def paragraphs(f: Figures) -> list[str]:
    """The bulletin's text in the current language: the experts' work, then the patients'
    movements (referrals and the costs families avoided, the outflow to the capital, local
    treatment), then the cleanrooms."""
    space = " " if i18n.get_locale() == "en" else ""
    return [
        space.join(_visits(f) + _patients(f)),
        space.join(_referrals(f) + _outflow(f) + _local_and_cleanrooms(f)),
    ]


def notes() -> list[str]:
    """The footnotes: where each figure comes from."""
    en = i18n.get_locale() == "en"
    found = [
        gettext(
            "Hospitals taking part: the institutions in Beijing whose experts recorded at "
            "least one out-call to the region in the year (the out-calls indicator by "
            "institution)."
        )
    ]
    for slug in SLUGS:
        ind = BY_SLUG[slug]
        found.append(
            f"{ind.name_en}: {ind.formula_en}." if en else f"{ind.name_zh}：{ind.formula_zh}。"
        )
    found.append(
        gettext(
            "Every figure is computed from the records by the same service as the indicators "
            "dashboard, the moment the bulletin is read. A figure without records is said to "
            "be missing or left out, never shown as zero."
        )
    )
    return found
