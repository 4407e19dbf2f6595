"""Set travel times through the service: the estimate beside each, inconsistent data refused
with stable codes, pairs only with one's own institution; and the minutes the planner reads
(Beijing to Baoding about two hours)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from medcircle.dispatch import travel_service as svc
from medcircle.dispatch.setup_schemas import TravelIn
from medcircle.kit.errors import DomainError
from tests import dispatch_factories as df
from tests import factories
from tests.integration.dispatch.setup_support import (  # noqa: F401 (fixtures)
    actor,
    audited,
    dw_fixture,
    frozen_fixture,
)


def _set(session: Session, who: str, origin: int, destination: int, minutes: int) -> object:
    return svc.set_travel(
        session,
        actor(session, who),
        TravelIn(
            origin_institution_id=origin, destination_institution_id=destination, minutes=minutes
        ),
    )


def _refused(
    session: Session, who: str, origin: int, destination: int, minutes: int
) -> DomainError:
    with pytest.raises(DomainError) as caught:
        _set(session, who, origin, destination, minutes)
    return caught.value


def test_the_agreement_pair_shows_its_estimate_until_set(
    session: Session, dw: df.DispatchWorld
) -> None:
    bj, bd = dw.base.beijing, dw.base.baoding
    [pair] = svc.list_travel(session, actor(session, "bjcoord"))
    assert (pair.origin.id, pair.destination.id, pair.row) == (bj.id, bd.id, None)
    assert pair.agreement_pair and pair.estimate is not None and 100 <= pair.estimate <= 130
    _set(session, "bjcoord", bj.id, bd.id, 125)
    [pair] = svc.list_travel(session, actor(session, "bjcoord"))
    assert pair.row is not None and pair.row.minutes == 125 and pair.estimate is not None
    # the other side sees it too; a stranger does not
    assert len(svc.list_travel(session, actor(session, "coordinator"))) == 1
    assert svc.list_travel(session, actor(session, "bd2coord")) == []
    [event] = audited(session, "dispatch.travel_set")
    assert event.detail["minutes"] == 125 and event.detail["before"] is None


@pytest.mark.parametrize(
    ("minutes", "code"),
    [(10, "faster_than_possible"), (0, "minutes_out_of_range"), (1441, "minutes_out_of_range")],
)
def test_inconsistent_times_are_refused(
    session: Session, dw: df.DispatchWorld, minutes: int, code: str
) -> None:
    err = _refused(session, "bjcoord", dw.base.beijing.id, dw.base.baoding.id, minutes)
    assert (err.status, err.code) == (422, code)
    assert err.field_errors[0].field == "minutes"


def test_faster_than_a_train_names_the_distance(session: Session, dw: df.DispatchWorld) -> None:
    err = _refused(session, "bjcoord", dw.base.beijing.id, dw.base.baoding.id, 10)
    fe = err.field_errors[0]
    assert "faster than any train" in fe.message
    assert 130 <= fe.params["km"] <= 145 and fe.params["fastest"] > 10


def test_the_two_directions_may_differ_at_most_twice(
    session: Session, dw: df.DispatchWorld
) -> None:
    bj, bd = dw.base.beijing, dw.base.baoding
    _set(session, "bjcoord", bj.id, bd.id, 120)
    err = _refused(session, "coordinator", bd.id, bj.id, 300)
    assert err.code == "directions_disagree" and err.field_errors[0].params["back"] == 120
    _set(session, "coordinator", bd.id, bj.id, 150)
    # changing one direction is checked against the other too
    assert _refused(session, "bjcoord", bj.id, bd.id, 60).code == "directions_disagree"


def test_places_must_exist_differ_and_include_ones_own(
    session: Session, dw: df.DispatchWorld
) -> None:
    bj, bd, bd2 = dw.base.beijing, dw.base.baoding, dw.base.baoding2
    assert _refused(session, "bjcoord", bj.id, bj.id, 60).code == "same_place"
    assert _refused(session, "bjcoord", bj.id, 999999, 60).code == "unknown_place"
    assert _refused(session, "bjcoord", bd.id, bd2.id, 30).code == "not_your_pair"
    assert _refused(session, "clinician", bd.id, bj.id, 120).status == 403


def test_an_institution_off_the_map_has_no_estimate(session: Session, dw: df.DispatchWorld) -> None:
    nowhere = factories.institution(session, "NOMAP", latitude=None, longitude=None)
    session.commit()
    bj = dw.base.beijing
    # only the range is checked; the planner gets the set time or nothing
    assert svc.travel_minutes(session, [bj.id], [nowhere.id]) == {}
    _set(session, "bjcoord", bj.id, nowhere.id, 5)
    view = next(
        v
        for v in svc.list_travel(session, actor(session, "bjcoord"))
        if v.destination.id == nowhere.id
    )
    assert view.estimate is None and view.row is not None
    assert svc.travel_minutes(session, [nowhere.id], [bj.id]) == {(nowhere.id, bj.id): 5}


def test_remove_brings_the_estimate_back(session: Session, dw: df.DispatchWorld) -> None:
    bj, bd = dw.base.beijing, dw.base.baoding
    row = _set(session, "bjcoord", bj.id, bd.id, 125)
    with pytest.raises(DomainError) as stranger:
        svc.remove_travel(session, actor(session, "bd2coord"), row.id)  # type: ignore[attr-defined]
    assert stranger.value.status == 404
    svc.remove_travel(session, actor(session, "bjcoord"), row.id)  # type: ignore[attr-defined]
    minutes = svc.travel_minutes(session, [bj.id], [bd.id])
    assert 100 <= minutes[(bj.id, bd.id)] <= 130


def test_the_planner_gets_set_times_either_way_else_the_estimate(
    session: Session, dw: df.DispatchWorld
) -> None:
    bj, bj2, bd, bd2 = dw.base.beijing, dw.base.beijing2, dw.base.baoding, dw.base.baoding2
    df.travel_time(session, bd.id, bj.id, 140)
    session.commit()
    got = svc.travel_minutes(session, [bj.id, bj2.id], [bd.id, bd2.id, bj.id])
    assert got[(bj.id, bd.id)] == 140  # the way back holds for both directions
    assert got[(bj.id, bj.id)] == 0
    # Beijing to Baoding, about 140 km: near two hours by road
    assert 100 <= got[(bj2.id, bd.id)] <= 130 and 100 <= got[(bj.id, bd2.id)] <= 130
