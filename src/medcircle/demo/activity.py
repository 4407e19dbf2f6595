"""The demo hospitals' activity, 2013 to 2024, as their systems would export it: one CSV file
of encounter records per hospital and year, in the import's own columns.

Pure: the seed, a hospital and a year in, rows of text out (no database). The records are
raw encounters; what the seeds report comes out of them only through the indicators, which
know nothing of this generator. The generator aims at the seeds' figures by planning exact
counts (how many stays a hospital discharges in a month, how many of them are of Hebei
residents, how many outpatients a day), then draws everything else at random: the day, the
department, the patient's county and age band, the diagnosis, the length of stay, the cost.

Scale: the inpatient stays of the Beijing and Baoding hospitals are drawn at a small fraction
of their real numbers (``STAYS_PER_BED``), which keeps shares such as the outflow right while
the demo stays small. Outpatient visits are drawn only at Baoding Children's, at full size,
for the years the seeds speak of (``OUTPATIENT_YEARS``): the daily count is the figure.
"""

from __future__ import annotations

import calendar
import csv
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TextIO

from medcircle.activity.domain import COLUMNS
from medcircle.demo.facts import (
    BAODING_CHILDRENS,
    BAODING_COUNTIES,
    BAODING_HOSPITALS,
    BDCH_BEDS_BEFORE,
    BDCH_OUTPATIENTS_PER_DAY,
    BEIJING_HOSPITALS,
    OUTFLOW_SHARE,
    TRUSTEESHIP_START,
    HospitalFact,
)

FIRST_YEAR = 2013
LAST_YEAR = 2024
# the years whose outpatient visits Baoding Children's exports in the demo: the year before
# the trusteeship, the years it took hold and the year of the 2017 report
OUTPATIENT_YEARS: tuple[int, ...] = (2014, 2015, 2016, 2017)
# inpatient stays discharged a year per bed, in the demo (real hospitals discharge some 30 to
# 50 a bed: the demo draws a sample of them, the same fraction everywhere)
STAYS_PER_BED = 0.6
# relative number of discharges and visits by month (winter brings more patients, the Spring
# Festival in January or February fewer)
SEASON: tuple[float, ...] = (1.02, 0.88, 1.05, 1.0, 0.98, 0.96, 1.04, 1.06, 0.98, 0.96, 1.0, 1.07)
# relative number of outpatient visits by weekday (Monday first)
WEEKDAY: tuple[float, ...] = (1.25, 1.1, 1.05, 1.0, 1.0, 0.85, 0.75)
# Hebei residents treated in Beijing, by where they live: Baoding's counties by their weight,
# the other cities of Hebei by theirs
OTHER_HEBEI: tuple[tuple[str, int], ...] = (
    ("130100", 14),
    ("130200", 10),
    ("130300", 4),
    ("130400", 8),
    ("130500", 6),
    ("130700", 7),
    ("130800", 6),
    ("130900", 8),
    ("131000", 12),
    ("131100", 5),
)
BAODING_SHARE_IN_BEIJING = 0.35
BAODING_SHARE_AT_HOME = 0.92
BEIJING_DISTRICTS: tuple[str, ...] = (
    "110101",
    "110102",
    "110105",
    "110106",
    "110107",
    "110108",
    "110109",
    "110111",
    "110112",
    "110113",
    "110114",
    "110115",
    "110116",
    "110117",
    "110118",
    "110119",
)
CHILD_BANDS: tuple[tuple[str, int], ...] = (("<1", 18), ("1-4", 40), ("5-14", 42))
ADULT_BANDS: tuple[tuple[str, int], ...] = (
    ("<1", 1),
    ("1-4", 2),
    ("5-14", 4),
    ("15-44", 30),
    ("45-64", 36),
    ("65+", 27),
)
MOTHER_BANDS: tuple[tuple[str, int], ...] = (("<1", 20), ("15-44", 75), ("45-64", 5))
# common main diagnoses by specialty (ICD-10); departments not listed draw from GENERAL
DIAGNOSES: dict[str, tuple[str, ...]] = {
    "ped_respiratory": ("J06.9", "J18.9", "J20.9", "J45.9", "J03.9", "J21.9"),
    "ped_gastro": ("A09", "K29.7", "K59.0", "K52.9"),
    "ped_hem_onc": ("C91.0", "C92.0", "D61.9", "D69.3", "C71.9"),
    "neonatology": ("P59.9", "P07.3", "P22.0", "P36.9"),
    "ped_surgery": ("K35.8", "K40.9", "Q43.1", "N43.3"),
    "ped_cardiology": ("Q21.0", "Q21.1", "I40.9"),
    "ped_neurology": ("G40.9", "R56.0", "G80.9"),
    "ped_nephrology": ("N04.9", "N39.0", "N05.9"),
    "cardiology": ("I10", "I25.1", "I21.9", "I48.9", "I50.9"),
    "neurology": ("I63.9", "G40.9", "G20", "G43.9"),
    "neurosurgery": ("C71.9", "I61.9", "S06.5", "D32.0"),
    "orthopaedics": ("S72.0", "M17.9", "S82.2", "M51.2", "M16.9"),
    "respiratory": ("J44.9", "J18.9", "J45.9", "C34.9"),
    "endocrinology": ("E11.9", "E10.9", "E05.9"),
    "gastroenterology": ("K29.7", "K25.9", "K80.2", "K74.6"),
    "nephrology": ("N18.9", "N04.9", "N10"),
    "oncology": ("C34.9", "C50.9", "C16.9", "C18.9", "C22.0"),
    "obstetrics": ("O80", "O82.9", "O14.9", "O24.4"),
    "gynaecology": ("N83.2", "D25.9", "N92.0"),
    "ophthalmology": ("H25.9", "H40.9", "H33.0", "H52.1"),
    "ent": ("J35.0", "H66.9", "J32.9", "H91.9"),
}
GENERAL: tuple[str, ...] = ("I10", "E11.9", "J18.9", "K29.7", "N39.0", "R10.4", "M54.5")
CHILDRENS_GENERAL: tuple[str, ...] = ("J06.9", "J18.9", "A09", "R50.9", "J20.9")


ALL_MONTHS: tuple[int, ...] = tuple(range(1, 13))
# the month a demo hospital office can download and import itself (the demo loads no outpatient
# visits of it, so its indicators move when it is imported; its stays are loaded already, and
# importing them again changes nothing)
OFFICE_MONTH: tuple[int, int] = (OUTPATIENT_YEARS[-1] + 1, 1)
# outpatient visits a day per bed of the hospitals other than Baoding Children's, in that month
OUTPATIENTS_PER_BED = 2.5


@dataclass(frozen=True)
class ActivityFile:
    """One hospital's encounter records of one year (or of some months of it), as one file;
    with the outpatient visits where the demo plans them, or where asked."""

    institution: str
    year: int
    months: tuple[int, ...] = ALL_MONTHS
    outpatients: bool | None = None

    @property
    def name(self) -> str:
        if len(self.months) == 1:
            return f"{self.institution}-activity-{self.year}-{self.months[0]:02d}.csv"
        return f"{self.institution}-activity-{self.year}.csv"

    @property
    def with_outpatients(self) -> bool:
        if self.outpatients is not None:
            return self.outpatients
        return self.institution == BAODING_CHILDRENS and self.year in OUTPATIENT_YEARS


def office_month(institution: str) -> ActivityFile | None:
    """The month of activity a demo hospital office imports itself (see ``OFFICE_MONTH``), or
    None for an institution whose activity the demo does not draw."""
    if institution not in {h.code for h in (*BEIJING_HOSPITALS, *BAODING_HOSPITALS)}:
        return None
    year, month = OFFICE_MONTH
    return ActivityFile(institution, year, (month,), outpatients=True)


def files(through: date) -> list[ActivityFile]:
    """Every file of the demo's activity, year by year, up to the last full year before
    ``through`` and never after 2024."""
    last = min(LAST_YEAR, through.year - 1)
    return [
        ActivityFile(h.code, year)
        for year in range(FIRST_YEAR, last + 1)
        for h in (*BEIJING_HOSPITALS, *BAODING_HOSPITALS)
    ]


def _hospital(code: str) -> HospitalFact:
    return next(h for h in (*BEIJING_HOSPITALS, *BAODING_HOSPITALS) if h.code == code)


def spread(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` by largest remainders (ties by position)."""
    whole = sum(weights)
    shares = [total * w / whole for w in weights]
    counts = [int(s) for s in shares]
    order = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def outflow_share(year: int) -> float:
    """The planned share (per cent) of Hebei residents among the Beijing hospitals' discharges."""
    return dict(OUTFLOW_SHARE)[year]


def _beds(h: HospitalFact, year: int, month: int) -> int:
    if h.code == BAODING_CHILDRENS and date(year, month, 1) < TRUSTEESHIP_START:
        return BDCH_BEDS_BEFORE
    return h.bed_count


def _stays_by_month(h: HospitalFact, year: int) -> list[int]:
    """Discharges of each month of ``year``."""
    weights = [
        _beds(h, year, m) * SEASON[m - 1] * calendar.monthrange(year, m)[1] for m in range(1, 13)
    ]
    total = round(sum(weights) / sum(calendar.monthrange(year, m)[1] for m in range(1, 13)))
    return spread(round(total * STAYS_PER_BED), weights)


def hebei_stays_in_beijing(year: int) -> dict[str, list[int]]:
    """For each Beijing hospital, its discharges of Hebei residents in each month of ``year``:
    the year's planned share of all the Beijing hospitals' discharges, shared out by size and
    by the hospitals' draw on Hebei (the children's hospital and the specialist ones more)."""
    months = {h.code: _stays_by_month(h, year) for h in BEIJING_HOSPITALS}
    total = sum(sum(m) for m in months.values())
    wanted = round(total * outflow_share(year) / 100)
    weights = [sum(months[h.code]) * (1 + h.expert_weight / 10) for h in BEIJING_HOSPITALS]
    per_hospital = spread(wanted, weights)
    out = {}
    for h, n in zip(BEIJING_HOSPITALS, per_hospital, strict=True):
        mine = months[h.code]
        # never more than the month's discharges
        out[h.code] = [min(a, b) for a, b in zip(spread(n, mine), mine, strict=True)]
    return out


def outpatients_per_day(year: int, month: int) -> float:
    """The planned mean of Baoding Children's daily outpatient visits in a month."""
    table = dict(BDCH_OUTPATIENTS_PER_DAY)
    start = TRUSTEESHIP_START
    if year != start.year or month < start.month:
        return float(table[year])
    # the months after the trusteeship took over: from the year's level before it, up by
    # equal steps to the next year's
    before, after = table[year], table[year + 1]
    return before + (after - before) * (month - start.month + 1) / (13 - start.month)


def _outpatients_by_day(h: HospitalFact, year: int, month: int) -> list[int]:
    """Outpatient visits of each day of a month: the month's planned mean, more in the busy
    months (the season's weights kept to a mean of one over the year), more early in the
    week."""
    lengths = [calendar.monthrange(year, m)[1] for m in range(1, 13)]
    norm = sum(n * s for n, s in zip(lengths, SEASON, strict=True)) / sum(lengths)
    days = lengths[month - 1]
    if h.code == BAODING_CHILDRENS:
        level = outpatients_per_day(year, month)
    else:
        level = h.bed_count * OUTPATIENTS_PER_BED
    total = round(level * days * SEASON[month - 1] / norm)
    return spread(total, [WEEKDAY[date(year, month, d).weekday()] for d in range(1, days + 1)])


def _pick(rng: random.Random, weighted: Sequence[tuple[str, int]]) -> str:
    return rng.choices([k for k, _ in weighted], [w for _, w in weighted])[0]


class _Draw:
    """The random parts of one hospital's records."""

    def __init__(self, rng: random.Random, h: HospitalFact) -> None:
        self.rng = rng
        self.h = h
        self.departments = h.specialties or ("general",)
        childrens = h.type == "childrens"
        mothers = h.type == "maternal_child"
        self.bands = CHILD_BANDS if childrens else MOTHER_BANDS if mothers else ADULT_BANDS
        self.general = CHILDRENS_GENERAL if childrens else GENERAL
        self.counties = [(c.code, c.weight) for c in BAODING_COUNTIES]
        in_hebei = h.division_code.startswith("13")
        self.baoding = BAODING_SHARE_AT_HOME if in_hebei else BAODING_SHARE_IN_BEIJING

    def department(self) -> str:
        return self.rng.choice(self.departments)

    def diagnosis(self, department: str) -> str:
        return self.rng.choice(DIAGNOSES.get(department, self.general))

    def hebei(self) -> str:
        """A Hebei resident's county or city: Baoding's mostly at a Baoding hospital, a third
        of the time at a Beijing one."""
        if self.rng.random() < self.baoding:
            return _pick(self.rng, self.counties)
        return _pick(self.rng, OTHER_HEBEI)

    def beijing(self) -> str:
        return self.rng.choice(BEIJING_DISTRICTS)


def _money(rng: random.Random, low: int, high: int) -> str:
    fen = rng.randint(low * 100, high * 100)
    return f"{fen // 100}.{fen % 100:02d}"


def size(f: ActivityFile) -> int:
    """How many records the file holds (without drawing them)."""
    h = _hospital(f.institution)
    stays = _stays_by_month(h, f.year)
    n = sum(stays[m - 1] for m in f.months)
    if f.with_outpatients:
        n += sum(sum(_outpatients_by_day(h, f.year, m)) for m in f.months)
    return n


def rows(seed: int, f: ActivityFile) -> Iterator[tuple[str, ...]]:
    """The records of one file, in the order of the import's columns, as text."""
    h = _hospital(f.institution)
    in_beijing = h.division_code.startswith("11")
    hebei_by_month = hebei_stays_in_beijing(f.year)[h.code] if in_beijing else None
    stays = _stays_by_month(h, f.year)
    for month in f.months:
        rng = random.Random(f"{seed}:{h.code}:{f.year}:{month}")
        draw = _Draw(rng, h)
        days = calendar.monthrange(f.year, month)[1]
        hebei = hebei_by_month[month - 1] if hebei_by_month is not None else stays[month - 1]
        for n in range(stays[month - 1]):
            # a stay is placed by its discharge, which the outflow counts
            end = date(f.year, month, rng.randint(1, days))
            start = end - timedelta(days=rng.randint(2, 14))
            dept = draw.department()
            residence = draw.hebei() if n < hebei else draw.beijing()
            yield (
                f"{h.code}-{f.year}{month:02d}-I{n + 1:05d}",
                h.code,
                dept,
                "inpatient",
                start.isoformat(),
                end.isoformat(),
                residence,
                _pick(rng, draw.bands),
                draw.diagnosis(dept),
                _money(rng, 2_000, 60_000),
                "",
            )
        if not f.with_outpatients:
            continue
        n = 0
        for day, count in enumerate(_outpatients_by_day(h, f.year, month), start=1):
            on = date(f.year, month, day).isoformat()
            for _ in range(count):
                n += 1
                dept = draw.department()
                yield (
                    f"{h.code}-{f.year}{month:02d}-O{n:06d}",
                    h.code,
                    dept,
                    "outpatient",
                    on,
                    "",
                    draw.hebei(),
                    _pick(rng, draw.bands),
                    draw.diagnosis(dept),
                    _money(rng, 60, 900),
                    "",
                )


def write_csv(seed: int, f: ActivityFile, out: TextIO) -> None:
    """One file, whole, as the hospital would upload it (UTF-8 text, a header line)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows(seed, f))
