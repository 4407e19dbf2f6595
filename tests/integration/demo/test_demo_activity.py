"""The demo's activity, imported through the import itself, gives the seeds' figures when the
platform's own indicators compute them: the Hebei share of the Beijing hospitals' discharges,
9.1 % in 2013 and 7.5 % in 2016, and Baoding Children's daily outpatient visits, 600 to 800
before the trusteeship and 1,600 to 1,800 in the year of the 2017 report (each within 1 % of
the seeds). The years the seeds do not speak of are left out here, to keep the test quick."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from medcircle.activity import service as activity_service
from medcircle.auth.domain import Actor, Role
from medcircle.demo import activity as a
from medcircle.demo import facts, service
from medcircle.kpis import service as kpis
from tests.integration.demo.conftest import DEMO_DAY, OPERATOR

ANALYST = Actor(
    user_id=0, username="analyst", institution_id=0, roles=frozenset({Role.COMMISSION_ANALYST})
)
HEBEI = "130000"
FILES = [
    a.ActivityFile(h.code, year)
    for year, _ in facts.OUTFLOW_REPORTED
    for h in facts.BEIJING_HOSPITALS
] + [a.ActivityFile(facts.BAODING_CHILDRENS, y) for y in (2014, 2017)]


@pytest.fixture(scope="module", autouse=True)
def activity(demo: Session) -> None:
    """The activity files imported into the module's demo world (rolled back with it)."""
    seen: list[int] = []
    service.load_activity(demo, OPERATOR, 2017, FILES, today=DEMO_DAY, on_rows=seen.append)
    assert seen[-1] == sum(a.size(f) for f in FILES)
    demo.flush()


def within_one_percent(value: float, seed: float) -> bool:
    return abs(value - seed) <= 0.01 * seed


@pytest.mark.parametrize(("year", "seed"), facts.OUTFLOW_REPORTED)
def test_the_hebei_share_of_beijing_discharges_is_the_seeds(
    demo: Session, year: int, seed: float
) -> None:
    found = kpis.compute(demo, ANALYST, "outflow-share", year, region=HEBEI)
    assert found.value is not None
    assert within_one_percent(found.value * 100, seed), found.value
    # the discharges of all twelve Beijing hospitals, each with Hebei residents among them
    assert len(found.by_institution) == len(facts.BEIJING_HOSPITALS)
    assert all(f.numerator > 0 for f in found.by_institution)


@pytest.mark.parametrize(
    ("year", "seed"),
    [(2014, facts.BDCH_OUTPATIENTS_BEFORE), (2017, facts.BDCH_OUTPATIENTS_NOW)],
)
def test_baoding_childrens_daily_outpatients_are_the_seeds(
    demo: Session, year: int, seed: tuple[int, int]
) -> None:
    found = kpis.compute(
        demo, ANALYST, "outpatient-visits-per-day", year, institution=facts.BAODING_CHILDRENS
    )
    lo, hi = seed
    assert found.value is not None
    assert lo <= found.value <= hi
    assert within_one_percent(found.value, (lo + hi) / 2)
    # every month, not only the year, sits near the range (the busy winter a little above)
    assert all(0.85 * lo <= (f.value or 0) <= 1.15 * hi for f in found.by_month)


def test_the_imports_are_in_the_history_as_the_offices_uploads(demo: Session) -> None:
    imports = activity_service.list_imports(demo, OPERATOR, limit=100)
    mine = [i for i in imports if i.file_name in {f.name for f in FILES}]
    assert len(mine) == len(FILES)
    assert all(i.status == "imported" and i.rows_inserted == i.rows_read for i in mine)


def test_an_office_imports_its_month_and_its_indicators_move(demo: Session, tmp_path: Path) -> None:
    month = a.office_month(facts.BAODING_CHILDRENS)
    assert month is not None
    service.load_activity(
        demo, OPERATOR, 2017, [a.ActivityFile(month.institution, month.year)], today=DEMO_DAY
    )
    slug, code = "outpatient-visits-per-day", facts.BAODING_CHILDRENS
    before = kpis.compute(demo, ANALYST, slug, month.year, institution=code)
    path = tmp_path / month.name
    with path.open("w", encoding="utf-8") as out:
        a.write_csv(2017, month, out)
    done = activity_service.import_file(demo, OPERATOR, path, institution=code, today=DEMO_DAY)
    after = kpis.compute(demo, ANALYST, slug, month.year, institution=code)
    assert done.status == "imported"
    # the month's stays were there already: imported again, they change nothing
    assert done.rows_unchanged > 0 and done.rows_updated == 0
    assert done.rows_inserted + done.rows_unchanged == done.rows_read
    assert before.numerator == 0 < after.numerator == done.rows_inserted
    january = next(f for f in after.by_month if f.key == f"{month.year}-01")
    assert january.value is not None and january.value > facts.BDCH_OUTPATIENTS_NOW[0]
