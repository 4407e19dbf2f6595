"""Response targets per agreement: the platform defaults, setting and clearing the agreement's
own (service, API and the section of the agreement page), the order and bounds checks, who
may read and who may change them, ended agreements, the audit trail, and the target a
consultation asked afterwards is promised."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.agreements.models import CooperationAgreement
from medcircle.consultations import targets
from medcircle.consultations.domain import Urgency
from medcircle.consultations.models import ConsultTarget
from medcircle.consultations.targets import TargetsIn
from medcircle.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests.factories import login
from tests.integration.consultations.conftest import Desk

API = "/api/v1"


@pytest.fixture
def pairing(desk: Desk) -> CooperationAgreement:
    """The BJ-A – BD-A pairing the consultation world's cases run under."""
    found = desk.session.scalar(
        select(CooperationAgreement).where(
            CooperationAgreement.supporting_institution_id == desk.w.answerer.id,
            CooperationAgreement.supported_institution_id == desk.w.asking.id,
        )
    )
    assert found is not None
    return found


def _url(a: CooperationAgreement) -> str:
    return f"{API}/agreements/{a.id}/consult-targets"


def _own_rows(session: Session, a: CooperationAgreement) -> dict[str, int]:
    session.expire_all()
    rows = session.scalars(select(ConsultTarget).where(ConsultTarget.agreement_id == a.id))
    return {r.urgency: r.minutes for r in rows}


def _problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    return body


def _end(session: Session, a: CooperationAgreement) -> None:
    a.terminated_on = date(2025, 1, 1)
    session.commit()


# --- service ---------------------------------------------------------------------------------


def test_defaults_then_own_targets_then_cleared(desk: Desk, pairing: CooperationAgreement) -> None:
    admin = desk.actor("institutionadmin")  # BD-A, a party
    t = targets.get_targets(desk.session, admin, desk.settings, pairing.id)
    assert [(x.urgency, x.minutes, x.own) for x in t.targets] == [
        (Urgency.EMERGENCY, 30, False),
        (Urgency.URGENT, 240, False),
        (Urgency.ROUTINE, 1440, False),
    ]
    assert t.may_edit and t.editable

    t = targets.set_targets(
        desk.session, admin, desk.settings, pairing.id, TargetsIn(emergency=20, routine=720)
    )
    desk.session.commit()
    assert [(x.minutes, x.own) for x in t.targets] == [(20, True), (240, False), (720, True)]
    assert _own_rows(desk.session, pairing) == {"emergency": 20, "routine": 720}

    # a change of one and a clear of another in the same call; the third kept
    t = targets.set_targets(
        desk.session, admin, desk.settings, pairing.id, TargetsIn(emergency=15, urgent=120)
    )
    desk.session.commit()
    assert [(x.minutes, x.own) for x in t.targets] == [(15, True), (120, True), (1440, False)]
    assert _own_rows(desk.session, pairing) == {"emergency": 15, "urgent": 120}


def test_a_consultation_asked_afterwards_gets_the_new_target(
    desk: Desk, pairing: CooperationAgreement
) -> None:
    before = desk.ask(urgency=Urgency.EMERGENCY)
    assert before.target_minutes == 30
    targets.set_targets(
        desk.session,
        desk.actor("bjadmin"),  # BJ-A, the other party
        desk.settings,
        pairing.id,
        TargetsIn(emergency=10, urgent=90),
    )
    desk.session.commit()
    after = desk.ask(urgency=Urgency.EMERGENCY)
    urgent = desk.ask(urgency=Urgency.URGENT)
    routine = desk.ask(urgency=Urgency.ROUTINE)
    desk.session.commit()
    assert after.target_minutes == 10
    assert urgent.target_minutes == 90
    assert routine.target_minutes == 1440  # still the default
    desk.session.refresh(before)
    assert before.target_minutes == 30  # already asked: keeps what it was promised


def test_order_is_checked_against_the_defaults_too(
    desk: Desk, pairing: CooperationAgreement
) -> None:
    admin = desk.actor("institutionadmin")
    with pytest.raises(ValidationFailed) as caught:
        # the urgent the user set is shorter than the emergency they set
        targets.set_targets(
            desk.session, admin, desk.settings, pairing.id, TargetsIn(emergency=60, urgent=45)
        )
    assert caught.value.code == "targets_out_of_order"
    assert [f.field for f in caught.value.field_errors] == ["urgent"]
    desk.session.rollback()
    with pytest.raises(ValidationFailed) as caught:
        # only emergency set, longer than the default urgent (4 h): emergency is to blame
        targets.set_targets(
            desk.session, admin, desk.settings, pairing.id, TargetsIn(emergency=300)
        )
    assert [f.field for f in caught.value.field_errors] == ["emergency"]
    desk.session.rollback()
    # equal targets are in order
    targets.set_targets(
        desk.session, admin, desk.settings, pairing.id, TargetsIn(emergency=240, urgent=240)
    )
    desk.session.commit()
    assert _own_rows(desk.session, pairing) == {"emergency": 240, "urgent": 240}


def test_who_may_read_and_change(desk: Desk, pairing: CooperationAgreement) -> None:
    s, st = desk.session, desk.settings
    # a clinician of a party reads but does not change
    seen = targets.get_targets(s, desk.actor("clinician"), st, pairing.id)
    assert not seen.may_edit
    with pytest.raises(Forbidden):
        targets.set_targets(s, desk.actor("clinician"), st, pairing.id, TargetsIn(emergency=20))
    # another institution does not see the agreement at all
    with pytest.raises(NotFound):
        targets.get_targets(s, desk.actor("bd2clinician"), st, pairing.id)
    with pytest.raises(NotFound):
        targets.set_targets(s, desk.actor("bd2clinician"), st, pairing.id, TargetsIn())
    # the commission changes any agreement
    t = targets.set_targets(
        s, desk.actor("commissionanalyst"), st, pairing.id, TargetsIn(routine=600)
    )
    assert t.targets[2].minutes == 600 and t.may_edit


def test_an_ended_agreement_keeps_its_targets(desk: Desk, pairing: CooperationAgreement) -> None:
    admin = desk.actor("institutionadmin")
    targets.set_targets(desk.session, admin, desk.settings, pairing.id, TargetsIn(urgent=120))
    desk.session.commit()
    _end(desk.session, pairing)
    with pytest.raises(Conflict) as caught:
        targets.set_targets(desk.session, admin, desk.settings, pairing.id, TargetsIn())
    assert caught.value.code == "agreement_ended"
    desk.session.rollback()
    assert _own_rows(desk.session, pairing) == {"urgent": 120}
    t = targets.get_targets(desk.session, admin, desk.settings, pairing.id)
    assert t.may_edit and not t.editable


# --- API -------------------------------------------------------------------------------------


def test_api_read_set_and_audit(
    client: TestClient, desk: Desk, pairing: CooperationAgreement
) -> None:
    auth = desk.w.auth_user("institutionadmin")
    r = client.get(_url(pairing), headers=desk.w.auth_user("clinician"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["agreement_id"] == pairing.id and body["may_edit"] is False
    assert [(t["urgency"], t["minutes"], t["own"]) for t in body["targets"]] == [
        ("emergency", 30, False),
        ("urgent", 240, False),
        ("routine", 1440, False),
    ]

    r = client.put(
        _url(pairing), json={"emergency": 20, "urgent": None, "routine": 600}, headers=auth
    )
    assert r.status_code == 200, r.text
    assert [(t["minutes"], t["own"], t["default_minutes"]) for t in r.json()["targets"]] == [
        (20, True, 30),
        (240, False, 240),
        (600, True, 1440),
    ]
    again = client.get(_url(pairing), headers=auth).json()
    assert [t["minutes"] for t in again["targets"]] == [20, 240, 600]

    r = client.put(_url(pairing), json={"emergency": None, "routine": 600}, headers=auth)
    assert r.status_code == 200, r.text
    events = desk.audits(targets.AUDIT_ACTION)
    assert len(events) == 2
    assert (events[0].object_type, events[0].object_id) == (
        "cooperation_agreement",
        str(pairing.id),
    )
    assert events[0].actor_username == "institutionadmin"
    assert events[0].detail == {
        "before": {"emergency": None, "urgent": None, "routine": None},
        "after": {"emergency": 20, "urgent": None, "routine": 600},
    }
    assert events[1].detail == {
        "before": {"emergency": 20, "urgent": None, "routine": 600},
        "after": {"emergency": None, "urgent": None, "routine": 600},
    }
    assert _own_rows(desk.session, pairing) == {"routine": 600}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"emergency": 4}, "emergency"),
        ({"routine": 43_201}, "routine"),
        ({"urgent": 0}, "urgent"),
        ({"urgent": "soon"}, "urgent"),
        ({"weekly": 60}, "weekly"),
    ],
)
def test_api_bounds(
    client: TestClient,
    desk: Desk,
    pairing: CooperationAgreement,
    body: dict[str, Any],
    field: str,
) -> None:
    r = client.put(_url(pairing), json=body, headers=desk.w.auth_user("institutionadmin"))
    assert r.status_code == 422, r.text
    assert field in r.text
    assert _own_rows(desk.session, pairing) == {}


def test_api_bounds_inclusive(
    client: TestClient, desk: Desk, pairing: CooperationAgreement
) -> None:
    r = client.put(
        _url(pairing),
        json={"emergency": 5, "urgent": 43_200, "routine": 43_200},
        headers=desk.w.auth_user("institutionadmin"),
    )
    assert r.status_code == 200, r.text
    assert _own_rows(desk.session, pairing) == {
        "emergency": 5,
        "urgent": 43_200,
        "routine": 43_200,
    }


def test_api_refusals_write_nothing(
    client: TestClient, desk: Desk, pairing: CooperationAgreement
) -> None:
    admin = desk.w.auth_user("institutionadmin")
    body = _problem(
        client.put(_url(pairing), json={"urgent": 600, "routine": 300}, headers=admin),
        422,
        "targets_out_of_order",
    )
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("routine", "targets_out_of_order")
    ]
    _problem(
        client.put(_url(pairing), json={"urgent": 60}, headers=desk.w.auth_user("clinician")),
        403,
        "forbidden",
    )
    _problem(client.get(_url(pairing), headers=desk.w.auth_user("bd2clinician")), 404, "not_found")
    _problem(
        client.put(_url(pairing), json={"urgent": 60}, headers=desk.w.auth_user("bd2clinician")),
        404,
        "not_found",
    )
    _problem(
        client.get(f"{API}/agreements/999999/consult-targets", headers=admin), 404, "not_found"
    )
    assert client.get(_url(pairing)).status_code == 401
    _end(desk.session, pairing)
    _problem(client.put(_url(pairing), json={"urgent": 60}, headers=admin), 409, "agreement_ended")
    assert _own_rows(desk.session, pairing) == {}
    assert desk.audits(targets.AUDIT_ACTION) == []
    assert desk.session.scalar(select(func.count()).select_from(ConsultTarget)) == 0


# --- the section of the agreement page -------------------------------------------------------

HX = {"HX-Request": "true"}


def test_the_agreement_page_loads_the_section(
    client: TestClient, desk: Desk, pairing: CooperationAgreement
) -> None:
    login(client, "clinician")
    page = client.get(f"/agreements/{pairing.id}")
    assert page.status_code == 200
    assert "Consultation response targets" in page.text
    assert f'hx-get="/agreements/{pairing.id}/consult-targets"' in page.text
    fragment = client.get(f"/agreements/{pairing.id}/consult-targets", headers=HX)
    assert fragment.status_code == 200
    html = fragment.text
    assert "<html" not in html  # the fragment alone
    assert "30 min" in html and "4 h" in html and "24 h" in html
    assert html.count('data-testid="default-target"') == 3
    assert "cases already asked keep the target they were promised" in html
    assert 'data-testid="consult-targets-form"' not in html  # a reader, not an editor
    # without JavaScript the same address is a page of its own
    whole = client.get(f"/agreements/{pairing.id}/consult-targets")
    assert "<html" in whole.text and "Consultation response targets" in whole.text


def test_the_form_sets_and_clears(
    client: TestClient, desk: Desk, pairing: CooperationAgreement
) -> None:
    csrf = login(client, "institutionadmin")
    url = f"/agreements/{pairing.id}/consult-targets"
    fragment = client.get(url, headers=HX).text
    assert 'data-testid="consult-targets-form"' in fragment
    assert f'name="csrf_token" value="{csrf}"' in fragment
    assert 'id="f-ct-emergency"' in fragment and 'for="f-ct-emergency"' in fragment
    r = client.post(
        url,
        data={"csrf_token": csrf, "emergency": "20", "urgent": "", "routine": "1050"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith(f"/agreements/{pairing.id}")
    assert _own_rows(desk.session, pairing) == {"emergency": 20, "routine": 1050}
    html = client.get(url, headers=HX).text
    assert "17 h 30 min" in html and "20 min" in html
    assert html.count('data-testid="own-target"') == 2
    assert 'name="emergency" type="number" value="20"' in html
    # blank clears back to the default
    r = client.post(
        url,
        data={"csrf_token": csrf, "emergency": "", "urgent": "", "routine": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert _own_rows(desk.session, pairing) == {}
    assert len(desk.audits(targets.AUDIT_ACTION)) == 2


def test_the_form_shows_refusals_by_the_field(
    client: TestClient, desk: Desk, pairing: CooperationAgreement
) -> None:
    csrf = login(client, "institutionadmin")
    url = f"/agreements/{pairing.id}/consult-targets"
    r = client.post(
        url, data={"csrf_token": csrf, "emergency": "3", "urgent": "abc", "routine": "600"}
    )
    assert r.status_code == 422
    assert 'id="ct-emergency-error"' in r.text and "from 5 to 43,200" in r.text
    assert 'id="ct-urgent-error"' in r.text
    assert 'id="ct-routine-error"' not in r.text
    assert 'value="600"' in r.text  # what was typed is kept
    r = client.post(url, data={"csrf_token": csrf, "urgent": "600", "routine": "300"})
    assert r.status_code == 422
    assert 'id="ct-routine-error"' in r.text and "may not be shorter than" in r.text
    assert _own_rows(desk.session, pairing) == {}
    _end(desk.session, pairing)
    r = client.post(url, data={"csrf_token": csrf, "urgent": "60"})
    assert r.status_code == 409
    assert "can no longer be changed" in r.text
    assert _own_rows(desk.session, pairing) == {}


def test_the_section_speaks_chinese(
    client: TestClient, desk: Desk, pairing: CooperationAgreement
) -> None:
    desk.user("institutionadmin").locale = "zh_Hans"
    desk.session.commit()
    csrf = login(client, "institutionadmin")
    assert "会诊响应时限" in client.get(f"/agreements/{pairing.id}").text
    url = f"/agreements/{pairing.id}/consult-targets"
    html = client.get(url, headers=HX).text
    assert "30 分钟" in html and "4 小时" in html and "（默认）" in html
    assert "危急（分钟）" in html and "保存时限" in html
    r = client.post(url, data={"csrf_token": csrf, "emergency": "300"})
    assert r.status_code == 422
    assert "“危急”的时限不得短于“紧急”的时限（240 分钟）" in r.text
    r = client.post(url, data={"csrf_token": csrf, "emergency": "25"}, follow_redirects=False)
    assert r.status_code == 303
    assert "本协议设定" in client.get(url, headers=HX).text
