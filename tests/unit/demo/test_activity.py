"""The demo's activity generator: files the import accepts row for row, the same records for
the same seed, and plans that hold the seeds' figures (the indicators are checked against the
seeds in the integration tests, from the imported records)."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from medcircle.activity.domain import COLUMNS, ActivityRow, Checks, parse_row
from medcircle.demo import activity as a
from medcircle.demo import facts
from medcircle.referrals import icd10
from medcircle.registry.reference import DIVISIONS_CSV


@pytest.fixture(scope="module")
def divisions() -> frozenset[str]:
    with DIVISIONS_CSV.open(encoding="utf-8") as fh:
        return frozenset(r["code"] for r in csv.DictReader(fh))


def _checks(divisions: frozenset[str]) -> Checks:
    hospitals = {h.code for h in (*facts.BEIJING_HOSPITALS, *facts.BAODING_HOSPITALS)}
    return Checks(
        institutions=frozenset(hospitals),
        divisions=divisions,
        today=date(2026, 1, 1),
        is_icd10=icd10.is_valid,
    )


SMALL = (a.ActivityFile("TTH", 2016), a.ActivityFile("BD1C", 2013))


@pytest.mark.parametrize("f", SMALL, ids=lambda f: f.name)
def test_every_record_passes_the_import_checks(
    f: a.ActivityFile, divisions: frozenset[str]
) -> None:
    checks = _checks(divisions)
    ids = set()
    for line, values in enumerate(a.rows(2017, f), start=2):
        parsed = parse_row(line, dict(zip(COLUMNS, values, strict=True)), checks)
        assert isinstance(parsed, ActivityRow), parsed
        assert parsed.institution == f.institution
        ids.add(parsed.record_id)
    assert len(ids) == line - 1 == a.size(f)


def test_every_diagnosis_is_an_icd10_code() -> None:
    for codes in (*a.DIAGNOSES.values(), a.GENERAL, a.CHILDRENS_GENERAL):
        for code in codes:
            assert icd10.is_valid(code), code


def test_the_same_seed_draws_the_same_file_and_another_seed_another() -> None:
    f = a.ActivityFile("BD2C", 2015, months=(2,))
    first, again, other = io.StringIO(), io.StringIO(), io.StringIO()
    a.write_csv(2017, f, first)
    a.write_csv(2017, f, again)
    a.write_csv(7, f, other)
    assert first.getvalue() == again.getvalue() != other.getvalue()
    header, *body = first.getvalue().splitlines()
    assert header == ",".join(COLUMNS) and len(body) == a.size(f)


def test_a_month_file_holds_that_month_only() -> None:
    f = a.ActivityFile("BDCH", 2017, months=(3,))
    assert f.name == "BDCH-activity-2017-03.csv"
    # a stay is placed by its discharge, a visit by its day
    months = {(r[5] or r[4])[:7] for r in a.rows(2017, f)}
    assert months == {"2017-03"}


def test_the_hebei_discharges_in_beijing_are_the_years_planned_share() -> None:
    for year, share in facts.OUTFLOW_SHARE:
        hebei = a.hebei_stays_in_beijing(year)
        total = sum(a.size(a.ActivityFile(h.code, year)) for h in facts.BEIJING_HOSPITALS)
        assert sum(map(sum, hebei.values())) == round(total * share / 100)


def test_the_outpatient_plan_sits_in_the_seeds_ranges() -> None:
    lo, hi = facts.BDCH_OUTPATIENTS_BEFORE
    for month in range(1, facts.TRUSTEESHIP_START.month):
        assert lo <= a.outpatients_per_day(2015, month) <= hi
    assert lo <= a.outpatients_per_day(2014, 6) <= hi
    lo, hi = facts.BDCH_OUTPATIENTS_NOW
    assert all(lo <= a.outpatients_per_day(2017, m) <= hi for m in range(1, 13))
    # after the trusteeship began the level climbs month by month to the next year's
    climb = [a.outpatients_per_day(2015, m) for m in range(6, 13)]
    assert climb == sorted(climb) and climb[-1] == dict(facts.BDCH_OUTPATIENTS_PER_DAY)[2016]


def test_files_cover_2013_to_2024_for_every_hospital() -> None:
    found = a.files(date(2026, 6, 1))
    hospitals = len(facts.BEIJING_HOSPITALS) + len(facts.BAODING_HOSPITALS)
    assert len(found) == 12 * hospitals
    assert {f.year for f in found} == set(range(2013, 2025))
    # never a year that has not ended
    assert max(f.year for f in a.files(date(2020, 3, 1))) == 2019
    with_visits = {(f.institution, f.year) for f in found if f.with_outpatients}
    assert with_visits == {("BDCH", y) for y in a.OUTPATIENT_YEARS}


def test_the_office_month_has_visits_and_only_for_the_demo_hospitals() -> None:
    month = a.office_month("BDCH")
    assert month is not None and month.with_outpatients
    assert (month.year, month.months) == (a.OFFICE_MONTH[0], (a.OFFICE_MONTH[1],))
    assert month.year not in a.OUTPATIENT_YEARS
    assert a.office_month("NOPE") is None
