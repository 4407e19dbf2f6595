"""The pools API end to end: pools, units, the waitlist, offers, admissions and discharges,
decisions, figures and the family's link; each refusal as problem+json with its stable code
and nothing half-written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.patients.models import Patient
from medcircle.pools.models import (
    Admission,
    AllocationDecision,
    Offer,
    PoolMember,
    ResourcePool,
    ResourceUnit,
    WaitlistEntry,
    WaitlistStatusLink,
)
from tests import referral_factories as rf
from tests.factories import World
from tests.pool_factories import PoolWorld, listable_patient, pool_world

API = "/api/v1"
MISSING = 999999
TABLES = (
    ResourcePool,
    PoolMember,
    ResourceUnit,
    WaitlistEntry,
    Offer,
    AllocationDecision,
    Admission,
    WaitlistStatusLink,
)


@pytest.fixture
def pw(session: Session, world: World) -> PoolWorld:
    w = pool_world(session, rf.referral_world(session, world))
    session.commit()
    return w


def _rows(session: Session) -> dict[str, int]:
    """How many rows each table of pools holds."""
    session.expire_all()
    return {
        t.__tablename__: int(session.scalar(select(func.count()).select_from(t)) or 0)
        for t in TABLES
    }


def _call(
    client: TestClient, pw: PoolWorld, method: str, path: str, who: str, body: Any = None
) -> Any:
    kwargs: dict[str, Any] = {"headers": pw.auth(who)}
    if body is not None:
        kwargs["json"] = body
    return client.request(method, API + path, **kwargs)


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def _patient(session: Session, pw: PoolWorld) -> Patient:
    p = listable_patient(session, pw)
    session.commit()
    return p


def _entry_body(patient: Patient, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient_id": patient.id,
        "icd10_code": "C91.0",
        "transplant_type": "allogeneic_related",
        "room_class": "100",
        "urgency": "routine",
        "donor_found": True,
        "workup_done": True,
    }
    body.update(overrides)
    return body


def _list(client: TestClient, pw: PoolWorld, patient: Patient, **overrides: Any) -> dict[str, Any]:
    made = _call(
        client,
        pw,
        "POST",
        f"/pools/{pw.pool.id}/waitlist",
        "clinician",
        _entry_body(patient, **overrides),
    )
    assert made.status_code == 201, made.text
    entry: dict[str, Any] = made.json()
    return entry


def _free(client: TestClient, pw: PoolWorld, key: str) -> dict[str, Any]:
    """Free a unit as its keeper (BJ-A's coordinator runs the pool, BD-A's keeps its units)."""
    unit = pw.units[key]
    who = "bjcoord" if unit.institution_id == pw.bj.id else "coordinator"
    units = _call(client, pw, "GET", f"/pools/{pw.pool.id}/units", who).json()
    version = next(u["version"] for u in units if u["id"] == unit.id)
    done = _call(
        client,
        pw,
        "PUT",
        f"/pool-units/{unit.id}/status",
        who,
        {"version": version, "status": "free"},
    )
    assert done.status_code == 200, done.text
    freed: dict[str, Any] = done.json()
    return freed


def _open_offer(client: TestClient, pw: PoolWorld, entry_id: int) -> dict[str, Any]:
    entry = _call(client, pw, "GET", f"/waitlist-entries/{entry_id}", "clinician").json()
    offer: dict[str, Any] = next(o for o in entry["offers"] if o["status"] == "open")
    return offer


# --- happy paths --------------------------------------------------------------------------------


def test_pools_their_members_units_and_policy(client: TestClient, pw: PoolWorld) -> None:
    listed = _call(client, pw, "GET", "/pools", "clinician")
    assert listed.status_code == 200
    assert [p["code"] for p in listed.json()] == ["cleanrooms"]

    one = _call(client, pw, "GET", f"/pools/{pw.pool.id}", "clinician").json()
    assert one["counts"] == {
        "units": 4,
        "free": 0,
        "occupied": 0,
        "waiting": 0,
        "ready": 0,
        "offered": 0,
    }
    assert len(one["member_institution_ids"]) == 4

    made = _call(
        client,
        pw,
        "POST",
        "/pools",
        "bjcoord",
        {
            "code": "picu-beds",
            "name_zh": "儿科重症床位",
            "name_en": "PICU beds",
            "kind": "bed",
            "member_institution_ids": [pw.bd.id],
        },
    )
    assert made.status_code == 201, made.text
    beds = made.json()
    assert beds["lead_institution_id"] == pw.bj.id
    assert beds["member_institution_ids"] == sorted([pw.bj.id, pw.bd.id])
    assert beds["policy"]["offer_hours"] == 24

    policy = {"offer_hours": 48, "aging_days": 60, "turnaround_days": 1, "default_stay_days": 7}
    changed = _call(
        client,
        pw,
        "PUT",
        f"/pools/{beds['id']}/policy",
        "bjcoord",
        {"version": beds["version"], "policy": policy},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["policy"] == policy
    assert changed.json()["version"] == beds["version"] + 1

    member = _call(
        client,
        pw,
        "POST",
        f"/pools/{beds['id']}/members",
        "bjcoord",
        {"institution_id": pw.circle.base.baoding2.id},
    )
    assert member.status_code == 200, member.text
    assert member.json()["institution_id"] == pw.circle.base.baoding2.id

    unit = _call(
        client,
        pw,
        "POST",
        f"/pools/{beds['id']}/units",
        "bjcoord",
        {"institution_id": pw.bd.id, "code": "BD-PICU-1", "name": "Bed 1", "room_class": "picu"},
    )
    assert unit.status_code == 201, unit.text
    assert unit.json()["status"] == "free"
    units = _call(client, pw, "GET", f"/pools/{beds['id']}/units", "bd2clinician")
    assert [u["code"] for u in units.json()] == ["BD-PICU-1"]

    # the unit's own coordinators keep it
    kept = _call(
        client,
        pw,
        "PUT",
        f"/pool-units/{unit.json()['id']}/status",
        "coordinator",
        {
            "version": unit.json()["version"],
            "status": "cleaning",
            "expected_free_on": (datetime.now(UTC) + timedelta(days=2)).date().isoformat(),
        },
    )
    assert kept.status_code == 200, kept.text
    assert kept.json()["status"] == "cleaning"


def test_the_line_offers_admission_discharge_and_decisions(
    client: TestClient, session: Session, pw: PoolWorld
) -> None:
    first = _list(client, pw, _patient(session, pw))
    second = _list(client, pw, _patient(session, pw), urgency="urgent")
    late = _list(client, pw, _patient(session, pw), donor_found=False)
    assert (first["position"], first["ahead"], first["status"]) == (1, 0, "waiting")
    assert first["estimate"] is not None
    assert not first["patient_name"].endswith("*")

    own = _call(client, pw, "GET", f"/pools/{pw.pool.id}/waitlist", "clinician").json()
    assert [e["id"] for e in own] == [second["id"], first["id"], late["id"]]
    assert [e["position"] for e in own] == [1, 2, 3]
    assert [e["ahead"] for e in own] == [0, 1, 2]
    assert not own[2]["ready"] and own[2]["estimate"] is not None
    masked = _call(client, pw, "GET", f"/pools/{pw.pool.id}/waitlist", "bjcoord").json()
    assert [e["patient_name"][-1] for e in masked] == ["*", "*", "*"]

    ready = _call(
        client,
        pw,
        "PATCH",
        f"/waitlist-entries/{late['id']}",
        "clinician",
        {"version": late["version"], "donor_found": True},
    )
    assert ready.status_code == 200, ready.text
    assert ready.json()["ready"] is True

    # a unit freed goes to the most urgent ready patient
    _free(client, pw, "bd1")
    offer = _open_offer(client, pw, second["id"])
    detail = _call(client, pw, "GET", f"/waitlist-entries/{second['id']}", "clinician").json()
    assert detail["status"] == "offered" and detail["position"] is None
    assert [d["id"] for d in detail["decisions"]] == [offer["decision_id"]]

    decision = _call(client, pw, "GET", f"/pool-decisions/{offer['decision_id']}", "bjcoord")
    assert decision.status_code == 200, decision.text
    seen = decision.json()
    assert seen["rule"] == "urgency" and seen["chosen_entry_id"] == second["id"]
    assert seen["offer"]["id"] == offer["id"]
    assert [c["entry_id"] for c in seen["candidates"]] == [second["id"], first["id"], late["id"]]
    assert all(c["name"].endswith("*") for c in seen["candidates"])
    own_view = _call(client, pw, "GET", f"/pool-decisions/{offer['decision_id']}", "clinician")
    assert not any(c["name"].endswith("*") for c in own_view.json()["candidates"])

    accepted = _call(
        client,
        pw,
        "POST",
        f"/pool-offers/{offer['id']}/accept",
        "clinician",
        {"version": offer["version"]},
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["entry_id"] == second["id"]
    units = _call(client, pw, "GET", f"/pools/{pw.pool.id}/units", "coordinator").json()
    assert next(u for u in units if u["id"] == pw.units["bd1"].id)["status"] == "occupied"

    decisions = _call(client, pw, "GET", f"/pools/{pw.pool.id}/decisions", "clinician")
    assert [d["id"] for d in decisions.json()] == [offer["decision_id"]]

    discharged = _call(
        client, pw, "POST", f"/pool-units/{pw.units['bd1'].id}/discharge", "coordinator", {}
    )
    assert discharged.status_code == 200, discharged.text
    assert discharged.json()["length_of_stay_days"] == 0
    counts = _call(client, pw, "GET", f"/pools/{pw.pool.id}", "clinician").json()["counts"]
    assert (counts["waiting"], counts["occupied"], counts["free"]) == (2, 0, 0)


def test_decline_override_allocate_and_close(
    client: TestClient, session: Session, pw: PoolWorld
) -> None:
    first = _list(client, pw, _patient(session, pw))
    second = _list(client, pw, _patient(session, pw))
    _free(client, pw, "bj1")
    offer = _open_offer(client, pw, first["id"])

    declined = _call(
        client,
        pw,
        "POST",
        f"/pool-offers/{offer['id']}/decline",
        "clinician",
        {"version": offer["version"], "reason": "Patient has a fever"},
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined"
    moved_on = _open_offer(client, pw, second["id"])
    assert moved_on["unit_id"] == pw.units["bj1"].id

    overridden = _call(
        client,
        pw,
        "POST",
        f"/pools/{pw.pool.id}/override",
        "bjcoord",
        {
            "unit_id": pw.units["bj1"].id,
            "entry_id": first["id"],
            "reason": "Fever resolved; the team asked for this room again.",
        },
    )
    assert overridden.status_code == 201, overridden.text
    assert overridden.json()["rule"] == "override"
    assert overridden.json()["chosen_entry_id"] == first["id"]
    overrides = _call(
        client, pw, "GET", f"/pools/{pw.pool.id}/decisions?overrides=true", "clinician"
    ).json()
    assert [d["id"] for d in overrides] == [overridden.json()["id"]]
    assert overrides[0]["override_reason"].startswith("Fever resolved")

    allocated = _call(client, pw, "POST", f"/pools/{pw.pool.id}/allocate", "bjcoord")
    assert allocated.status_code == 200, allocated.text
    assert allocated.json() == []  # no free unit without an offer

    entry = _call(client, pw, "GET", f"/waitlist-entries/{second['id']}", "clinician").json()
    closed = _call(
        client,
        pw,
        "POST",
        f"/waitlist-entries/{second['id']}/close",
        "clinician",
        {"version": entry["version"], "status": "withdrawn", "reason": "Moved abroad"},
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "withdrawn" and closed.json()["position"] is None


def test_the_figures_per_room_class(client: TestClient, session: Session, pw: PoolWorld) -> None:
    _list(client, pw, _patient(session, pw))
    found = _call(client, pw, "GET", f"/pools/{pw.pool.id}/figures", "bjcoord")
    assert found.status_code == 200, found.text
    figures = found.json()
    assert figures["pooled_since"] == "2020-01-01"
    classes = {f["room_class"]: f for f in figures["room_classes"]}
    assert set(classes) == {"100", "1000"}
    hundred = classes["100"]
    assert hundred["units"] == 3
    comparison = hundred["comparison"]
    assert {s["institution_id"] for s in comparison["sites"]} == {pw.bj.id, pw.bd.id}
    assert {s["institution"] for s in comparison["sites"]} == {
        "Beijing Hospital A",
        "Baoding Hospital A",
    }
    assert comparison["pooled"]["servers"] == 3
    assert isinstance(comparison["separate_unbounded"], bool)
    assert hundred["after"]["listed"] == 1 and hundred["before"]["listed"] == 0
    assert set(hundred["backtest"]) >= {"share_inside", "median_abs_error_days", "scored"}


def test_a_family_link_shows_no_name_nor_diagnosis_and_ends_when_revoked(
    client: TestClient, session: Session, pw: PoolWorld
) -> None:
    patient = _patient(session, pw)
    _list(client, pw, _patient(session, pw))
    entry = _list(client, pw, patient, icd10_code="D61.9")
    made = _call(client, pw, "POST", f"/waitlist-entries/{entry['id']}/status-links", "clinician")
    assert made.status_code == 201, made.text
    link = made.json()
    assert link["url"].endswith("/pools/status/" + link["token"])

    shown = client.get(f"{API}/pool-status/{link['token']}")
    assert shown.status_code == 200, shown.text
    assert shown.headers["cache-control"].startswith("no-store")
    family = shown.json()
    assert (family["status"], family["position"], family["ready"]) == ("waiting", 2, True)
    assert family["pool_en"] == "Cleanrooms" and family["estimate"] is not None
    assert patient.name not in shown.text and "D61" not in shown.text
    assert not {"patient_name", "patient_id", "icd10_code", "name"} & set(family)

    listed = _call(client, pw, "GET", f"/waitlist-entries/{entry['id']}", "clinician").json()
    assert [s["id"] for s in listed["status_links"]] == [link["id"]]
    assert listed["status_links"][0]["last_seen_at"] is not None
    # others of the pool see no links (and a masked name)
    other = _call(client, pw, "GET", f"/waitlist-entries/{entry['id']}", "bjclinician").json()
    assert other["status_links"] == [] and other["note"] is None
    assert other["patient_name"].endswith("*")

    gone = _call(client, pw, "DELETE", f"/waitlist-status-links/{link['id']}", "clinician")
    assert gone.status_code == 204
    _problem(client.get(f"{API}/pool-status/{link['token']}"), 404, "link_invalid")
    _problem(client.get(f"{API}/pool-status/not-a-token"), 404, "link_invalid")


def test_the_openapi_document_builds_with_the_pool_routes(client: TestClient) -> None:
    found = client.get("/api/v1/openapi.json")
    assert found.status_code == 200
    paths = found.json()["paths"]
    assert "/api/v1/pools/{pool_id}/waitlist" in paths
    assert "/api/v1/pool-status/{token}" in paths
    assert "/api/v1/pool-decisions/{decision_id}" in paths


# --- refusals -----------------------------------------------------------------------------------


def test_a_room_class_the_pool_lacks(client: TestClient, session: Session, pw: PoolWorld) -> None:
    before = _rows(session)
    refused = _call(
        client,
        pw,
        "POST",
        f"/pools/{pw.pool.id}/waitlist",
        "clinician",
        _entry_body(_patient(session, pw), room_class="10000"),
    )
    body = _problem(refused, 422, "room_class_unknown")
    assert body["errors"][0]["field"] == "room_class"
    assert _rows(session) == before


def test_a_patient_already_listed(client: TestClient, session: Session, pw: PoolWorld) -> None:
    patient = _patient(session, pw)
    _list(client, pw, patient)
    before = _rows(session)
    again = _call(
        client, pw, "POST", f"/pools/{pw.pool.id}/waitlist", "clinician", _entry_body(patient)
    )
    _problem(again, 409, "already_listed")
    assert _rows(session) == before


def test_consent_missing(client: TestClient, session: Session, pw: PoolWorld) -> None:
    patient = rf.patient(session, pw.bd, national_id=None)
    session.commit()
    before = _rows(session)
    refused = _call(
        client, pw, "POST", f"/pools/{pw.pool.id}/waitlist", "clinician", _entry_body(patient)
    )
    _problem(refused, 422, "consent_missing")
    assert _rows(session) == before


def test_an_offer_accepted_after_it_expired(
    client: TestClient, session: Session, pw: PoolWorld
) -> None:
    entry = _list(client, pw, _patient(session, pw))
    _free(client, pw, "bd1")
    offer = _open_offer(client, pw, entry["id"])
    before = _rows(session)
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=25), tick=False):
        late = _call(
            client,
            pw,
            "POST",
            f"/pool-offers/{offer['id']}/accept",
            "clinician",
            {"version": offer["version"]},
        )
    _problem(late, 409, "offer_expired")
    assert _rows(session) == before
    assert session.get(Offer, offer["id"]).status == "open"  # type: ignore[union-attr]


def test_a_discharge_of_a_free_unit(client: TestClient, session: Session, pw: PoolWorld) -> None:
    _free(client, pw, "bd1")
    before = _rows(session)
    refused = _call(
        client, pw, "POST", f"/pool-units/{pw.units['bd1'].id}/discharge", "coordinator", {}
    )
    _problem(refused, 409, "unit_not_occupied")
    assert _rows(session) == before
    assert session.get(ResourceUnit, pw.units["bd1"].id).status == "free"  # type: ignore[union-attr]


def test_an_override_without_a_reason(client: TestClient, session: Session, pw: PoolWorld) -> None:
    entry = _list(client, pw, _patient(session, pw))
    before = _rows(session)
    for reason in (None, "", "short"):
        body: dict[str, Any] = {"unit_id": pw.units["bj1"].id, "entry_id": entry["id"]}
        if reason is not None:
            body["reason"] = reason
        refused = _call(client, pw, "POST", f"/pools/{pw.pool.id}/override", "bjcoord", body)
        problem = _problem(refused, 422, "validation_failed")
        assert any("reason" in str(e.get("field")) for e in problem["errors"]), problem
    assert _rows(session) == before


def test_a_stale_version(client: TestClient, session: Session, pw: PoolWorld) -> None:
    entry = _list(client, pw, _patient(session, pw))
    before = _rows(session)
    stale = _call(
        client,
        pw,
        "PATCH",
        f"/waitlist-entries/{entry['id']}",
        "clinician",
        {"version": entry["version"] + 1, "urgency": "critical"},
    )
    _problem(stale, 409, "stale_version")
    unit = pw.units["bj1"]
    stale_unit = _call(
        client,
        pw,
        "PUT",
        f"/pool-units/{unit.id}/status",
        "bjcoord",
        {"version": unit.version + 5, "status": "free"},
    )
    _problem(stale_unit, 409, "stale_version")
    assert _rows(session) == before
    session.expire_all()
    assert session.get(WaitlistEntry, entry["id"]).urgency == "routine"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/pools/{MISSING}", None),
        ("GET", f"/pools/{MISSING}/waitlist", None),
        ("GET", f"/pools/{MISSING}/units", None),
        ("GET", f"/pools/{MISSING}/figures", None),
        ("GET", f"/pools/{MISSING}/decisions", None),
        ("GET", f"/waitlist-entries/{MISSING}", None),
        ("GET", f"/pool-decisions/{MISSING}", None),
        ("POST", f"/waitlist-entries/{MISSING}/status-links", None),
        ("DELETE", f"/waitlist-status-links/{MISSING}", None),
        ("PATCH", f"/waitlist-entries/{MISSING}", {"version": 1, "urgency": "urgent"}),
        ("PUT", f"/pool-units/{MISSING}/status", {"version": 1, "status": "free"}),
        ("POST", f"/pool-units/{MISSING}/discharge", {}),
        ("POST", f"/pool-offers/{MISSING}/accept", {"version": 1}),
        ("POST", f"/pool-offers/{MISSING}/decline", {"version": 1, "reason": "No longer"}),
    ],
)
def test_unknown_ids(
    client: TestClient, session: Session, pw: PoolWorld, method: str, path: str, body: Any
) -> None:
    before = _rows(session)
    _problem(_call(client, pw, method, path, "platformadmin", body), 404, "not_found")
    assert _rows(session) == before


def test_an_entry_of_a_pool_of_other_institutions_is_not_found(
    client: TestClient, session: Session, pw: PoolWorld
) -> None:
    made = _call(
        client,
        pw,
        "POST",
        "/pools",
        "bjcoord",
        {
            "code": "bj-bd",
            "name_zh": "京保层流仓",
            "name_en": "BJ-BD cleanrooms",
            "member_institution_ids": [pw.bd.id],
        },
    )
    assert made.status_code == 201, made.text
    pool_id = made.json()["id"]
    unit = _call(
        client,
        pw,
        "POST",
        f"/pools/{pool_id}/units",
        "bjcoord",
        {"institution_id": pw.bj.id, "code": "X-1", "name": "Room X", "room_class": "100"},
    )
    assert unit.status_code == 201, unit.text
    listed = _call(
        client,
        pw,
        "POST",
        f"/pools/{pool_id}/waitlist",
        "clinician",
        _entry_body(_patient(session, pw)),
    )
    assert listed.status_code == 201, listed.text
    entry = listed.json()
    before = _rows(session)

    # BD-B is not a member: the pool and its entries do not exist for it
    for method, path, body in (
        ("GET", f"/waitlist-entries/{entry['id']}", None),
        ("GET", f"/pools/{pool_id}/waitlist", None),
        ("PATCH", f"/waitlist-entries/{entry['id']}", {"version": entry["version"]}),
        ("POST", f"/waitlist-entries/{entry['id']}/status-links", None),
    ):
        _problem(_call(client, pw, method, path, "bd2clinician", body), 404, "not_found")
    # a member of the pool reads it, the name masked; only the patient's team changes it
    seen = _call(client, pw, "GET", f"/waitlist-entries/{entry['id']}", "bjclinician")
    assert seen.status_code == 200 and seen.json()["patient_name"].endswith("*")
    _problem(
        _call(
            client,
            pw,
            "PATCH",
            f"/waitlist-entries/{entry['id']}",
            "bjclinician",
            {"version": entry["version"], "urgency": "critical"},
        ),
        403,
        "forbidden",
    )
    assert _rows(session) == before


def test_users_without_the_permission(client: TestClient, session: Session, pw: PoolWorld) -> None:
    patient = _patient(session, pw)
    before = _rows(session)
    _problem(_call(client, pw, "GET", "/pools", "auditor"), 403, "forbidden")
    # the coordinator keeps units but does not list patients
    _problem(
        _call(
            client,
            pw,
            "POST",
            f"/pools/{pw.pool.id}/waitlist",
            "coordinator",
            _entry_body(patient),
        ),
        403,
        "forbidden",
    )
    # a clinician runs no pool
    _problem(
        _call(
            client,
            pw,
            "POST",
            "/pools",
            "clinician",
            {"code": "mine", "name_zh": "我的", "name_en": "Mine"},
        ),
        403,
        "forbidden",
    )
    # BD-A's coordinator keeps BD-A's units, not the pool's policy nor BJ-A's units
    _problem(
        _call(
            client,
            pw,
            "PUT",
            f"/pools/{pw.pool.id}/policy",
            "coordinator",
            {"version": pw.pool.version, "policy": {"offer_hours": 12}},
        ),
        403,
        "forbidden",
    )
    _problem(
        _call(
            client,
            pw,
            "PUT",
            f"/pool-units/{pw.units['bj1'].id}/status",
            "coordinator",
            {"version": pw.units["bj1"].version, "status": "free"},
        ),
        403,
        "forbidden",
    )
    assert _rows(session) == before
