"""The dispatch set-up pages through the real app: demand list, form and decision with messages
by the field; experts' availability with its refusals; travel times with the estimate beside
each; both languages; other institutions' things not found."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.dispatch.models import DispatchDemand, ExpertProfile
from tests import dispatch_factories as df
from tests import factories
from tests.factories import csrf_of, login
from tests.integration.dispatch.setup_support import (  # noqa: F401 (fixtures)
    dw_fixture,
    frozen_fixture,
    zh,
)


def _field_error(html: str, field: str) -> str:
    m = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', html, re.S)
    assert m, f"no message by the field {field}"
    return m.group(1)


def _form(token: str, w: df.DispatchWorld, **kw: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "agreement_id": str(w.agreement.id),
        "specialty_code": df.SPECIALTY,
        "kind": "visits",
        "visits_per_week": "2",
        "starts_on": "2026-12-07",
        "ends_on": "2027-02-26",
        **kw,
    }


def test_the_site_asks_for_experts_by_the_form(
    client: TestClient, session: Session, dw: df.DispatchWorld
) -> None:
    login(client, "coordinator")
    page = client.get("/dispatch/demand")
    assert page.status_code == 200 and 'data-testid="new-demand"' in page.text
    form = client.get("/dispatch/demand/new")
    assert form.status_code == 200 and "Weekly visits" in form.text
    token = csrf_of(form.text)
    bad = client.post(
        "/dispatch/demand/new",
        data=_form(token, dw, specialty_code="cardiology"),
    )
    assert bad.status_code == 422
    assert "nobody could be sent" in _field_error(bad.text, "specialty_code")
    bad = client.post("/dispatch/demand/new", data=_form(token, dw, visits_per_week="7"))
    assert bad.status_code == 422 and "1 to 5 visit days" in _field_error(
        bad.text, "visits_per_week"
    )
    bad = client.post("/dispatch/demand/new", data=_form(token, dw, ends_on="soon"))
    assert bad.status_code == 422 and "YYYY-MM-DD" in _field_error(bad.text, "ends_on")
    ok = client.post("/dispatch/demand/new", data=_form(token, dw), follow_redirects=False)
    assert ok.status_code == 303, ok.text
    detail = client.get(ok.headers["location"])
    assert "saved as a draft" in detail.text and "2 visit days a week" in detail.text
    row = session.scalars(select(DispatchDemand)).one()
    r = client.post(
        f"/dispatch/demand/{row.id}/submit",
        data={"csrf_token": token, "version": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.expire_all()
    assert session.get(DispatchDemand, row.id).status == "submitted"  # type: ignore[union-attr]
    listed = client.get("/dispatch/demand?status=submitted").text
    assert f'data-demand="{row.id}"' in listed
    assert f'data-demand="{row.id}"' not in client.get("/dispatch/demand?status=approved").text


def test_the_supporter_rejects_with_a_note_then_approves(
    client: TestClient, session: Session, dw: df.DispatchWorld
) -> None:
    row = df.demand(session, dw, status="submitted")
    session.commit()
    login(client, "bjcoord")
    page = client.get(f"/dispatch/demand/{row.id}")
    assert 'data-testid="approve"' in page.text and 'data-testid="reject"' in page.text
    token = csrf_of(page.text)
    r = client.post(
        f"/dispatch/demand/{row.id}/reject", data={"csrf_token": token, "version": "1", "note": ""}
    )
    assert r.status_code == 422 and "Say why" in _field_error(r.text, "note")
    r = client.post(
        f"/dispatch/demand/{row.id}/approve",
        data={"csrf_token": token, "version": "1", "note": "Fine"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "the planner will plan it" in client.get(r.headers["location"]).text
    stale = client.post(
        f"/dispatch/demand/{row.id}/reject",
        data={"csrf_token": token, "version": "1", "note": "late"},
    )
    assert stale.status_code == 409 and "changed by someone else" in stale.text


def test_other_institutions_find_nothing(
    client: TestClient, session: Session, dw: df.DispatchWorld
) -> None:
    row = df.demand(session, dw, status="submitted")
    session.commit()
    login(client, "bd2coord")
    assert client.get(f"/dispatch/demand/{row.id}").status_code == 404
    assert f'data-demand="{row.id}"' not in client.get("/dispatch/demand").text
    assert client.get(f"/dispatch/experts/{dw.expert.id}").status_code == 404


def test_the_pages_speak_chinese(
    client: TestClient, session: Session, dw: df.DispatchWorld
) -> None:
    dw.site_coordinator.locale = "zh_Hans"
    dw.bj_coordinator.locale = "zh_Hans"
    df.demand(session, dw, status="submitted")
    session.commit()
    login(client, "coordinator")
    html = client.get("/dispatch/demand").text
    assert zh("Demand for experts") in html and "每周出诊 2 天" in html
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/account").text)})
    login(client, "bjcoord")
    assert zh("Experts' availability") in client.get("/dispatch/experts").text
    travel = client.get("/dispatch/travel").text
    assert zh("Estimate from the map") in travel and "分钟（" in travel
    expert = client.get(f"/dispatch/experts/{dw.expert3.id}").text
    token = csrf_of(expert)
    r = client.post(
        f"/dispatch/experts/{dw.expert3.id}/profile",
        data={
            "csrf_token": token,
            "specialty_code": df.SPECIALTY,
            "max_days_per_week": "2",
            "is_active": "1",
            "duty_weekdays": ["0", "1", "2", "3", "4"],
        },
    )
    assert r.status_code == 422 and "参与派出" in _field_error(r.text, "duty_weekdays")


def test_keeping_an_experts_availability(
    client: TestClient, session: Session, dw: df.DispatchWorld
) -> None:
    login(client, "bjcoord")
    listed = client.get("/dispatch/experts").text
    assert f'data-expert="{dw.expert3.id}"' in listed and "No dispatch profile yet" in listed
    page = client.get(f"/dispatch/experts/{dw.expert3.id}")
    token = csrf_of(page.text)
    url = f"/dispatch/experts/{dw.expert3.id}"
    r = client.post(
        url + "/profile",
        data={
            "csrf_token": token,
            "specialty_code": df.SPECIALTY,
            "max_days_per_week": "2",
            "is_active": "1",
            "duty_weekdays": ["0", "1", "2", "3", "4"],
        },
    )
    assert r.status_code == 422 and "Switch &#39;takes part in dispatch&#39; off" in _field_error(
        r.text, "duty_weekdays"
    )
    r = client.post(
        url + "/profile",
        data={
            "csrf_token": token,
            "specialty_code": df.SPECIALTY,
            "max_days_per_week": "9",
            "is_active": "1",
        },
    )
    assert r.status_code == 422 and "0 to 5" in _field_error(r.text, "max_days_per_week")
    r = client.post(
        url + "/profile",
        data={
            "csrf_token": token,
            "specialty_code": df.SPECIALTY,
            "max_days_per_week": "1",
            "is_active": "1",
            "duty_weekdays": ["2"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.expire_all()
    p = session.get(ExpertProfile, dw.expert3.id)
    assert p is not None and (p.max_days_per_week, p.duty_weekdays) == (1, [2])
    r = client.post(
        url + "/skills", data={"csrf_token": token, "skill": "ECMO"}, follow_redirects=False
    )
    assert r.status_code == 303
    r = client.post(url + "/skills", data={"csrf_token": token, "skill": "ecmo"})
    assert r.status_code == 409 and "already has the skill ecmo" in _field_error(
        r.text, "skill-skill"
    )
    r = client.post(url + "/duties", data={"csrf_token": token, "day": "2026-12-05"})
    assert r.status_code == 422 and "Monday to Friday" in _field_error(r.text, "duty-day")
    # an expert reads, but has no forms
    client.post("/logout", data={"csrf_token": token})
    login(client, "expert")
    own = client.get(url).text
    assert "ecmo" in own and 'data-testid="profile-form"' not in own


def test_travel_times_page(client: TestClient, session: Session, dw: df.DispatchWorld) -> None:
    factories.institution(session, "NOMAP", latitude=None, longitude=None)
    session.commit()
    login(client, "bjcoord")
    page = client.get("/dispatch/travel")
    assert page.status_code == 200
    row = page.text[page.text.index(f'data-destination="{dw.base.baoding.id}"') :]
    assert "not set" in row[: row.index("</tr>")]
    token = csrf_of(page.text)
    data = {
        "csrf_token": token,
        "origin_institution_id": str(dw.base.beijing.id),
        "destination_institution_id": str(dw.base.baoding.id),
        "minutes": "9",
    }
    r = client.post("/dispatch/travel", data=data)
    assert r.status_code == 422 and "faster than any train" in _field_error(r.text, "minutes")
    r = client.post("/dispatch/travel", data={**data, "minutes": "125"}, follow_redirects=False)
    assert r.status_code == 303
    assert "125 min" in client.get("/dispatch/travel").text
    nomap = session.scalar(
        select(factories.Institution).where(factories.Institution.code == "NOMAP")
    )
    assert nomap is not None
    r = client.post(
        "/dispatch/travel",
        data={**data, "destination_institution_id": str(nomap.id), "minutes": "90"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert 'data-testid="no-estimate"' in client.get("/dispatch/travel").text
