"""The rota pages through the real app: the list with who is on call and the problems ahead,
the week grid with warnings in words, leave struck through and handovers, the forms and their
refusals by the field, previous and next weeks, both languages, other institutions (404)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.consultations.models import ExpertLeave, ExpertSkill, OnCallShift
from medcircle.consultations.rota_pages import when_text
from medcircle.kit import i18n
from tests import consult_factories as cf
from tests import referral_factories as rf
from tests.factories import World, csrf_of, login
from tests.integration.consultations.rota_support import (  # noqa: F401 (fixtures)
    MONDAY,
    NOW,
    D,
    H,
    audited,
    cw_fixture,
    frozen_fixture,
)

SPEC = cf.SPECIALTY
WEEK = "/rotas/" + SPEC + "?week=2026-11-30"


def zh(message: str) -> str:
    text: str = i18n.translations("zh_Hans").ugettext(message)
    return text


def _count(session: Session, model: type) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _field_error(html: str, field: str) -> str:
    m = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', html, re.S)
    assert m, f"no message by the field {field}"
    return m.group(1)


def test_the_list_shows_rotas_on_call_and_problems(client: TestClient, cw: cf.ConsultWorld) -> None:
    login(client, "bjcoord")
    r = client.get("/rotas")
    assert r.status_code == 200
    html = r.text
    assert 'data-specialty="ped_cardiology"' in html and 'data-specialty="cardiology"' in html
    assert cw.expert.display_name in html and cw.expert2.display_name in html
    # paediatric cardiology has nobody from Tuesday 04:00 (China time); cardiology has never had
    # a shift: it is listed as a rota nobody keeps, without warnings
    assert "Nobody on call Tue 12-01 04:00" in html
    row = html[html.index('data-specialty="cardiology"') :]
    row = row[: row.index("</tr>")]
    assert 'data-testid="rota-not-kept"' in row and "go to the pool" in row
    assert "Nobody on call" not in row
    problems = html[html.index('data-testid="rota-problems"') : html.index('data-testid="rotas"')]
    assert "/rotas/cardiology?" not in problems and "/rotas/ped_cardiology?" in problems


def test_the_week_grid_warnings_leave_and_handovers(
    client: TestClient, session: Session, cw: cf.ConsultWorld
) -> None:
    # Tuesday: expert3 primary 04:00-16:00; expert on leave Monday 12:00-14:00
    cf.shift(session, cw.answerer, cw.expert3, MONDAY + D + 4 * H, MONDAY + D + 16 * H)
    cf.leave(session, cw.expert, MONDAY + 12 * H, MONDAY + 14 * H)
    session.commit()
    login(client, "bjcoord")
    html = client.get(WEEK).text
    grid = html[html.index('data-testid="week-grid"') :]
    assert grid.count('class="rota-day') == 7
    assert 'data-day="2026-11-30"' in grid and 'data-day="2026-12-06"' in grid
    # Monday's primary: on leave 12:00-14:00 struck through
    assert re.search(r"<del[^>]*>12:00–14:00</del>", html)
    warnings = html[html.index('data-testid="warnings"') : html.index('data-testid="week-grid"')]
    assert "Only a backup on call Mon 11-30 12:00–14:00" in warnings
    assert "is on leave during their shift Mon 11-30 12:00–14:00" in warnings
    assert "Nobody on call Tue 12-01 16:00 – Mon 12-07 00:00" in warnings
    handovers = html[html.index('data-testid="handovers"') :]
    assert (
        f"Handover Tue 12-01 04:00: {cw.expert.display_name} to {cw.expert3.display_name}"
        in handovers
    )
    # the weeks around
    assert "week=2026-11-23" in html and "week=2026-12-07" in html
    nxt = client.get("/rotas/" + SPEC + "?week=2026-12-09")
    assert 'data-day="2026-12-07"' in nxt.text and "Nobody on call Mon 12-07 00:00" in nxt.text


def test_the_pages_speak_chinese(client: TestClient, session: Session, cw: cf.ConsultWorld) -> None:
    cw.coordinator.locale = "zh_Hans"
    session.commit()
    login(client, "bjcoord")
    html = client.get(WEEK).text
    assert zh("On-call rota") in html and zh("Add a shift") in html
    assert "周二 12-01 04:00" in html
    assert "无人值班" in html
    assert zh("Problems ahead") in client.get("/rotas").text


def test_add_a_shift_by_the_form_and_refusals_by_the_field(
    client: TestClient, session: Session, cw: cf.ConsultWorld
) -> None:
    login(client, "bjcoord")
    token = csrf_of(client.get(WEEK).text)
    form = {
        "csrf_token": token,
        "week": "2026-11-30",
        "user_id": str(cw.expert3.id),
        "role": "primary",
        "starts_at": "2026-12-01T04:00",
        "ends_at": "2026-12-01T16:00",
    }
    r = client.post(f"/rotas/{SPEC}/shifts", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert "done=shift" in r.headers["location"]
    assert "The shift is added." in client.get(r.headers["location"]).text
    assert len(audited(session, "rota.shift_add")) == 1
    before = _count(session, OnCallShift)
    # the same again: overlap, shown by the start field
    r = client.post(f"/rotas/{SPEC}/shifts", data=form, follow_redirects=False)
    assert r.status_code == 409
    assert "already has a shift on this rota" in _field_error(r.text, "shift-starts_at")
    # too long, backwards, not an expert
    r = client.post(f"/rotas/{SPEC}/shifts", data={**form, "ends_at": "2026-12-09T04:00"})
    assert r.status_code == 422 and "at most 7 days" in _field_error(r.text, "shift-ends_at")
    r = client.post(f"/rotas/{SPEC}/shifts", data={**form, "ends_at": "2026-12-01T03:00"})
    assert r.status_code == 422 and "after the start" in _field_error(r.text, "shift-ends_at")
    r = client.post(
        f"/rotas/{SPEC}/shifts", data={**form, "user_id": str(cw.circle.bj_clinician.id)}
    )
    assert r.status_code == 422 and "not an active expert" in _field_error(r.text, "shift-user_id")
    r = client.post(f"/rotas/{SPEC}/shifts", data={**form, "starts_at": ""})
    assert r.status_code == 422 and _field_error(r.text, "shift-starts_at")
    # the typed values stay in the form
    assert 'value="2026-12-01T16:00"' in r.text
    assert _count(session, OnCallShift) == before


def test_repeat_and_its_conflict_report(
    client: TestClient, session: Session, cw: cf.ConsultWorld
) -> None:
    login(client, "bjcoord")
    token = csrf_of(client.get(WEEK).text)
    before = _count(session, OnCallShift)
    data = {"csrf_token": token, "week": "2026-11-30", "weeks": "2"}
    r = client.post(f"/rotas/{SPEC}/repeat", data=data, follow_redirects=False)
    assert r.status_code == 303
    assert _count(session, OnCallShift) == before + 4
    r = client.post(f"/rotas/{SPEC}/repeat", data={**data, "weeks": "3"}, follow_redirects=False)
    assert r.status_code == 409
    report = r.text[r.text.index('data-testid="repeat-conflicts"') :]
    assert report.count("<li>") >= 4
    assert "overlaps another shift of the same expert" in report
    assert _count(session, OnCallShift) == before + 4
    r = client.post(f"/rotas/{SPEC}/repeat", data={**data, "weeks": "20"})
    assert r.status_code == 422 and _field_error(r.text, "repeat-weeks")


def test_leave_and_skills_by_the_forms(
    client: TestClient, session: Session, cw: cf.ConsultWorld
) -> None:
    # an expert records their own leave; the form offers only themselves
    login(client, "expert")
    page = client.get(WEEK).text
    assert 'data-testid="add-shift"' not in page and 'data-testid="add-leave"' in page
    token = csrf_of(page)
    leave = {
        "csrf_token": token,
        "week": "2026-11-30",
        "user_id": str(cw.expert.id),
        "starts_at": "2026-12-02T08:00",
        "ends_at": "2026-12-03T08:00",
        "reason": "conference",
    }
    r = client.post(f"/rotas/{SPEC}/leave", data=leave, follow_redirects=False)
    assert r.status_code == 303
    r = client.post(f"/rotas/{SPEC}/leave", data={**leave, "ends_at": "2026-12-01T08:00"})
    assert r.status_code == 422 and "after the start" in _field_error(r.text, "leave-ends_at")
    r = client.post(f"/rotas/{SPEC}/leave", data={**leave, "user_id": str(cw.expert2.id)})
    assert r.status_code == 403
    assert _count(session, ExpertLeave) == 1
    row = session.scalars(select(ExpertLeave)).one()
    page = client.get(WEEK).text
    assert "conference" in page
    r = client.post(
        f"/rotas/{SPEC}/leave/{row.id}/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303 and _count(session, ExpertLeave) == 0
    # skills: a coordinator sets them; a bad prefix is shown by the field
    client.cookies.clear()
    login(client, "bjcoord")
    token = csrf_of(client.get(WEEK).text)
    skills = {
        "csrf_token": token,
        "week": "2026-11-30",
        "user_id": str(cw.expert3.id),
        "skills": "q2, C91 Q21.0",
    }
    r = client.post(f"/rotas/{SPEC}/skills", data=skills, follow_redirects=False)
    assert r.status_code == 303
    session.expire_all()
    assert sorted(
        session.scalars(
            select(ExpertSkill.icd10_prefix).where(ExpertSkill.user_id == cw.expert3.id)
        )
    ) == ["C91", "Q2", "Q21.0"]
    r = client.post(f"/rotas/{SPEC}/skills", data={**skills, "skills": "Q2 9X"})
    assert r.status_code == 422 and "9X is not an ICD-10 prefix" in _field_error(
        r.text, "skills-skills"
    )


def test_delete_from_the_grid_and_other_institutions(
    client: TestClient, session: Session, cw: cf.ConsultWorld
) -> None:
    future = cf.shift(session, cw.answerer, cw.expert3, NOW + D, NOW + D + 4 * H)
    session.commit()
    future_id = future.id
    login(client, "bjcoord")
    page = client.get(WEEK).text
    assert f"/shifts/{future_id}/delete" in page
    # the running shifts can be ended now, each by one button only
    assert page.count(">End now<") == 2 and page.count(">Remove<") == 1
    r = client.post(
        f"/rotas/{SPEC}/shifts/{future_id}/delete",
        data={"csrf_token": csrf_of(page), "week": "2026-11-30"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "done=deleted" in r.headers["location"]
    session.expire_all()
    assert session.scalar(select(OnCallShift.id).where(OnCallShift.id == future_id)) is None
    # Baoding's coordinator: Beijing's shifts do not exist; a rota Baoding lacks is not found
    client.cookies.clear()
    login(client, "coordinator")
    listing = client.get("/rotas")
    assert listing.status_code == 200 and cw.expert.display_name not in listing.text
    assert client.get("/rotas/cardiology").status_code == 404
    running = session.scalars(
        select(OnCallShift).where(OnCallShift.user_id == cw.expert.id)
    ).first()
    assert running is not None
    r = client.post(
        f"/rotas/{SPEC}/shifts/{running.id}/delete", data={"csrf_token": csrf_of(listing.text)}
    )
    assert r.status_code == 404


def test_anonymous_goes_to_login(client: TestClient, cw: cf.ConsultWorld) -> None:
    r = client.get("/rotas", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_times_read_in_china_time() -> None:
    before = i18n.get_locale()
    i18n.set_locale("en")
    try:
        sat = MONDAY + 5 * D
        assert when_text(sat + 2 * H, sat + 8 * H) == "Sat 12-05 02:00–08:00"
        assert when_text(sat + 20 * H, sat + D) == "Sat 12-05 20:00–24:00"
        assert when_text(sat + 20 * H, sat + D + 8 * H) == "Sat 12-05 20:00 – Sun 12-06 08:00"
        assert when_text(sat + 8 * H, sat + 8 * H) == "Sat 12-05 08:00"
        i18n.set_locale("zh_Hans")
        assert when_text(sat + 2 * H, sat + 8 * H) == "周六 12-05 02:00–08:00"
    finally:
        i18n.set_locale(before)


def test_an_expert_sees_their_shifts_and_odd_weeks_fall_back(
    client: TestClient, cw: cf.ConsultWorld
) -> None:
    login(client, "expert")
    html = client.get("/rotas").text
    mine = html[html.index('data-testid="my-shifts"') :]
    assert "Mon 11-30 04:00 – Tue 12-01 04:00" in mine
    for odd in ("nonsense", "9999-12-31", "1900-01-01"):
        r = client.get(f"/rotas/{SPEC}?week={odd}")
        assert r.status_code == 200 and 'data-day="2026-11-30"' in r.text
    assert client.get("/rotas/nope").status_code == 404


def test_the_rota_keepers_home_shows_the_gaps_ahead(
    client: TestClient, session: Session, world: World
) -> None:
    """The rota's problems reach the coordinator's home page before they happen: in the
    consult world the only shift on the rota ends 18 hours from now, a gap follows."""
    w = cf.consult_world(session, rf.referral_world(session, world))
    session.commit()
    login(client, w.coordinator.username)
    html = client.get("/").text
    assert 'data-testid="card-rota-problems"' in html
    assert "Nobody on call" in html and "/rotas/ped_cardiology?week=" in html
    # each line names its rota
    card = html[html.index('data-testid="card-rota-problems"') :]
    card = card[: card.index("</section>")]
    assert "Paediatric cardiology: Nobody on call" in card
    # an expert keeps no rota: no such card
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/account").text)})
    login(client, w.expert3.username)
    assert 'data-testid="card-rota-problems"' not in client.get("/").text
