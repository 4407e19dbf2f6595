"""An indicator year by year: Baoding A's daily outpatient visits from 2013, with the
agreements it is a party to marked where they start and the twelve months before and after one
of them compared; the years computed as one year is; the same rights and refusals; and the
breakdowns by alliance (in the months of membership) and by specialty."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from medcircle.activity import service as activity
from medcircle.auth.domain import Role
from medcircle.kit.errors import Forbidden, NotFound, ValidationFailed
from medcircle.kpis import service
from tests import agreement_factories as af
from tests import referral_factories as rf
from tests.factories import World
from tests.integration.activity.test_service import actor_of, write
from tests.integration.kpis.test_service import HEBEI, TODAY

VISITS = "outpatient-visits-per-day"


def _visits(month: str, count: int, prefix: str) -> list[str]:
    return [
        f"{prefix}{n},BD-A,儿科门诊,outpatient,{month}-{1 + n % 28:02d},,130606,1-4,J06.9,80,"
        for n in range(count)
    ]


@pytest.fixture
def paired(session: Session, world: World, tmp_path: Path) -> World:
    """30 visits at Baoding A in July 2014, 61 in July 2015 and 10 in 2018; Beijing A takes
    Baoding A in trusteeship from 1 June 2015, and a pairing of 2017 follows."""
    lines = _visits("2014-07", 30, "A") + _visits("2015-07", 61, "B") + _visits("2018-03", 10, "C")
    done = activity.import_file(
        session, actor_of(world, Role.PLATFORM_ADMIN), write(tmp_path, lines), today=TODAY
    )
    assert done.status == "imported", done.report
    af.agreement(
        session,
        world.beijing,
        world.baoding,
        kind="trusteeship",
        starts_on=date(2017, 9, 1),
        ends_on=date(2027, 8, 31),
        code="CA-2017",
    )
    af.agreement(
        session,
        world.beijing,
        world.baoding,
        kind="trusteeship",
        starts_on=date(2015, 6, 1),
        ends_on=date(2025, 5, 31),
        code="CA-2015",
        title_en="Trusteeship of Baoding A",
    )
    return world


def trend(world: World, session: Session, role: Role = Role.COMMISSION_ANALYST, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("today", TODAY)
    first, last = kw.pop("first", 2013), kw.pop("last", 2024)
    return service.trend(session, actor_of(world, role), kw.pop("slug", VISITS), first, last, **kw)


def test_an_institutions_trend_with_its_agreements_marked(paired: World, session: Session) -> None:
    t = trend(paired, session, institution="BD-A")
    assert [f.key for f in t.by_year] == [str(y) for y in range(2013, 2025)]
    years = {f.key: (f.numerator, f.denominator) for f in t.by_year}
    assert years["2014"] == (30, 365) and years["2015"] == (61, 365) and years["2016"] == (0, 366)
    # each year is what one year's computation gives
    one = service.compute(
        session,
        actor_of(paired, Role.COMMISSION_ANALYST),
        VISITS,
        2015,
        institution="BD-A",
        today=TODAY,
    )
    assert t.by_year[2].value == one.value == pytest.approx(61 / 365)
    # the agreements, in the order they start, either side of them
    assert [(a.code, a.starts_on, a.partner, a.supporting) for a in t.agreements] == [
        ("CA-2015", date(2015, 6, 1), "BJ-A", False),
        ("CA-2017", date(2017, 9, 1), "BJ-A", False),
    ]
    ba = t.before_after
    assert ba is not None and ba.agreement.code == "CA-2015" and ba.complete
    assert (ba.before.key, ba.after.key) == ("2014-06/2015-05", "2015-06/2016-05")
    # June 2015 to May 2016 holds 29 February
    assert (ba.before.numerator, ba.before.denominator) == (30, 365)
    assert (ba.after.numerator, ba.after.denominator) == (61, 366)
    assert ba.difference == pytest.approx(61 / 366 - 30 / 365)
    assert ba.ratio == pytest.approx((61 / 366) / (30 / 365))


def test_another_agreement_may_be_compared_and_the_months_may_lie_outside_the_years(
    paired: World, session: Session
) -> None:
    t = trend(paired, session, institution="BD-A", first=2019, last=2020, agreement="CA-2017")
    ba = t.before_after
    assert ba is not None and ba.agreement.code == "CA-2017"
    assert (ba.before.numerator, ba.after.numerator) == (0, 10)
    # no visit recorded in the year before: no data, so no change to tell
    assert ba.before.value is None and ba.after.value == pytest.approx(10 / 365)
    assert ba.ratio is None and ba.difference is None
    assert [f.numerator for f in t.by_year] == [0, 0]
    assert [f.value for f in t.by_year] == [None, None]


def test_a_region_trend_has_no_agreements(paired: World, session: Session) -> None:
    t = trend(paired, session, region=HEBEI)
    assert t.agreements == [] and t.before_after is None
    assert sum(f.numerator for f in t.by_year) == 101


def test_an_office_follows_its_own_institution(paired: World, session: Session) -> None:
    office = Role.INSTITUTION_ADMIN  # of Baoding A
    t = trend(paired, session, office)
    assert t.institution == "BD-A" and len(t.agreements) == 2
    with pytest.raises(NotFound):
        trend(paired, session, office, institution="BJ-A")
    with pytest.raises(Forbidden):
        trend(paired, session, office, slug="outflow-share", region=HEBEI)


@pytest.mark.parametrize(
    ("kw", "code", "field"),
    [
        ({"first": 2020, "last": 2019}, "bad_range", "first"),
        ({"first": 2000, "last": 2025}, "range_too_long", "last"),
        ({"first": 1999, "last": 2005}, "bad_year", "first"),
        ({"first": 2020, "last": 2027}, "bad_year", "last"),
        ({"institution": "BD-A", "agreement": "CA-NONE"}, "unknown_agreement", "agreement"),
        ({"slug": "outflow-share"}, "region_required", "region"),
    ],
)
def test_bad_ranges_are_refused_by_their_field(
    paired: World, session: Session, kw: dict[str, object], code: str, field: str
) -> None:
    with pytest.raises(ValidationFailed) as e:
        trend(paired, session, **kw)
    assert e.value.code == code
    assert (e.value.field_errors[0].field, e.value.field_errors[0].code) == (field, code)


def test_referrals_by_alliance_in_the_months_of_membership_and_by_specialty(
    world: World, session: Session
) -> None:
    circle = rf.referral_world(session, world)
    child = rf.patient(session, world.baoding)
    # Baoding B joined the alliance led by Baoding A on 1 June 2017
    for sender, month in (
        (world.users[Role.CLINICIAN], 3),
        (circle.bd2_clinician, 3),
        (circle.bd2_clinician, 7),
    ):
        at = datetime(2017, month, 10, 2, tzinfo=UTC)
        rf.referral(session, child, sender, circle.bj_paeds, submitted_at=at)
    rf.referral(
        session,
        child,
        world.users[Role.CLINICIAN],
        circle.bj_cardio,
        submitted_at=datetime(2017, 8, 1, 2, tzinfo=UTC),
    )
    c = service.compute(
        session,
        actor_of(world, Role.COMMISSION_ANALYST),
        "referrals-up",
        2017,
        region=HEBEI,
        today=TODAY,
    )
    assert c.value == 4
    assert [(f.label_en, f.value) for f in c.by_alliance] == [(c.by_alliance[0].label_en, 3)]
    assert {f.key: f.value for f in c.by_specialty} == {"cardiology": 1, "ped_cardiology": 3}
    assert {f.key: f.label_zh for f in c.by_specialty}["cardiology"] == "心血管内科"
    rows = service.table_rows(c)
    assert ("alliance", 3.0) in {(r[3], r[7]) for r in rows}
    # the region indicators declare neither breakdown
    share = service.compute(
        session,
        actor_of(world, Role.COMMISSION_ANALYST),
        "outflow-share",
        2017,
        region=HEBEI,
        today=TODAY,
    )
    assert share.by_alliance == [] and share.by_specialty == []


def test_the_trend_table_as_rows(paired: World, session: Session) -> None:
    t = trend(paired, session, institution="BD-A")
    rows = service.trend_rows(t)
    kinds = [r[4] for r in rows]
    assert kinds.count("year") == 12 and kinds.count("agreement") == 2
    assert kinds[-4:] == ["before", "after", "difference", "ratio"]
    assert rows[0][:6] == (VISITS, "2013-2024", "", "BD-A", "year", "2013")
    text = service.trend_csv(t)
    assert "agreement,2015-06-01," in text
    assert service.trend_file_name(t, "csv") == f"{VISITS}-2013-2024-BD-A.csv"
