"""The consultation pages through the real app: the worklists of the expert, the asker and the
coordinator, the asking form and its refusals by field, the case with whose turn it is, the
thread, the opinion and the one-step referral; lost claim races and stale forms told plainly;
other institutions see nothing (404); coordinators see patients' names masked; both
languages."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.auth.models import User
from medcircle.consultations.domain import Action, Status, Urgency
from medcircle.consultations.models import Consultation, ConsultationMessage
from medcircle.consultations.pages import duration_text, time_left
from medcircle.kit import i18n
from medcircle.referrals.models import Referral
from tests import consult_factories as cf
from tests import referral_factories as rf
from tests.factories import csrf_of, login
from tests.integration.consultations.conftest import Desk


def zh(message: str) -> str:
    text: str = i18n.translations("zh_Hans").ugettext(message)
    return text


def _field_error(html: str, field: str) -> str:
    m = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', html, re.S)
    assert m, f"no message by the field {field}"
    return m.group(1)


def _ask_form(w: cf.ConsultWorld, **overrides: str) -> dict[str, str]:
    values = {
        "patient_id": str(w.patient.id),
        "pool": f"{w.answerer.id}:{cf.SPECIALTY}",
        "mode": "written",
        "urgency": "urgent",
        "question": "Is surgical closure of this VSD indicated now?",
        "clinical_summary": "Murmur since birth; echo shows a 7 mm perimembranous VSD.",
        "icd10_code": "Q21.0",
        "diagnosis": "",
    }
    values.update(overrides)
    return values


def _ask(client: TestClient, w: cf.ConsultWorld, **overrides: str) -> int:
    """Ask through the form as BD-A's clinician (logged in already); the new case's id."""
    csrf = csrf_of(client.get("/consultations/new").text)
    r = client.post(
        "/consultations/new",
        data={**_ask_form(w, **overrides), "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    m = re.match(r"/consultations/(\d+)\?asked=1", r.headers["location"])
    assert m
    return int(m.group(1))


def _act(client: TestClient, cid: int, action: str, **fields: str) -> tuple[int, str]:
    page = client.get(f"/consultations/{cid}")
    assert page.status_code == 200
    version = re.search(
        rf'data-testid="action-{action}".*?name="version" value="(\d+)"', page.text, re.S
    )
    assert version, f"the page offers {action}"
    r = client.post(
        f"/consultations/{cid}/actions",
        data={
            "action": action,
            "version": version.group(1),
            "csrf_token": csrf_of(page.text),
            **fields,
        },
        follow_redirects=False,
    )
    return r.status_code, r.text


def _logout(client: TestClient) -> None:
    client.cookies.clear()


# --- the clock in words --------------------------------------------------------------------


@pytest.fixture
def english() -> Iterator[None]:
    before = i18n.get_locale()
    i18n.set_locale("en")
    yield
    i18n.set_locale(before)


def test_time_left_in_words(english: None) -> None:
    assert duration_text(80) == "1 h 20 min"
    assert duration_text(45) == "45 min"
    assert duration_text(120) == "2 h"
    assert duration_text(27 * 60) == "1 d 3 h"
    running = time_left("assigned", 80, False, 240)
    assert (running.text, running.tone) == ("1 h 20 min left", "ok")
    assert time_left("pool", 20, False, 240).tone == "risk"
    late = time_left("assigned", -15, False, 240)
    assert (late.text, late.tone) == ("overdue by 15 min", "overdue")
    paused = time_left("awaiting_asker", 100, True, 240)
    assert (paused.text, paused.tone) == ("paused: waiting for the asker", "paused")
    assert time_left("closed", None, False, 240).tone == "done"
    i18n.set_locale("zh_Hans")
    assert duration_text(80) == "1 小时 20 分钟"
    assert time_left("assigned", -15, False, 240).text == "已超时 15 分钟"


# --- the asking form -----------------------------------------------------------------------


def test_the_form_shows_who_is_on_call_and_the_targets(
    client: TestClient, consult_world: cf.ConsultWorld
) -> None:
    w = consult_world
    login(client, "clinician")
    page = client.get("/consultations/new")
    assert page.status_code == 200
    name = w.expert.display_name or w.expert.username
    assert f"On call now: {name}" in page.text
    # a specialty the agreement covers with nobody on call goes to the coordinator
    assert "Nobody on call: the coordinator will assign it" in page.text
    assert "first answer within 30 min" in page.text
    assert "first answer within 4 h" in page.text
    assert "first answer within 1 d 0 h" in page.text
    assert w.patient.name in page.text


def test_the_form_refuses_by_the_field(client: TestClient, consult_world: cf.ConsultWorld) -> None:
    login(client, "clinician")
    csrf = csrf_of(client.get("/consultations/new").text)
    r = client.post(
        "/consultations/new",
        data={"csrf_token": csrf, "mode": "written", "urgency": "routine"},
    )
    assert r.status_code == 422
    assert "Choose the patient." in _field_error(r.text, "patient_id")
    assert "Choose who should answer" in _field_error(r.text, "pool")
    assert "required" in _field_error(r.text, "question")
    assert "required" in _field_error(r.text, "clinical_summary")
    assert "required" in _field_error(r.text, "icd10_code")
    bad = client.post(
        "/consultations/new",
        data={**_ask_form(consult_world, icd10_code="ZZZ"), "csrf_token": csrf},
    )
    assert bad.status_code == 422
    assert "ZZZ" in _field_error(bad.text, "icd10_code")
    # what was typed is kept
    assert "Is surgical closure of this VSD indicated now?" in bad.text


def test_missing_consent_is_shown_with_a_link_to_the_patient(
    client: TestClient, session: Session, consult_world: cf.ConsultWorld
) -> None:
    w = consult_world
    other = rf.patient(session, w.asking, name="李小红", national_id=rf.ADULT_ID)
    session.commit()
    login(client, "clinician")
    csrf = csrf_of(client.get("/consultations/new").text)
    r = client.post(
        "/consultations/new",
        data={**_ask_form(w, patient_id=str(other.id)), "csrf_token": csrf},
    )
    assert r.status_code == 422
    assert "consent" in _field_error(r.text, "patient_id").lower()
    assert f'href="/patients/{other.id}#consents"' in r.text
    assert session.scalar(select(Consultation).where(Consultation.patient_id == other.id)) is None


def test_asking_routes_to_the_expert_on_call_and_shows_the_case(
    client: TestClient, consult_world: cf.ConsultWorld
) -> None:
    w = consult_world
    login(client, "clinician")
    cid = _ask(client, w)
    page = client.get(f"/consultations/{cid}?asked=1")
    assert page.status_code == 200
    assert "The question is sent." in page.text
    assert "The expert&#39;s turn" in page.text or "The expert's turn" in page.text
    assert re.search(r'data-testid="time-left"[^>]*>\d+ h( \d+ min)? left<', page.text)
    assert w.patient.name in page.text
    assert "Is surgical closure of this VSD indicated now?" in page.text
    # the asker's worklist
    asked = client.get("/consultations?list=asked")
    assert asked.status_code == 200
    assert f'href="/consultations/{cid}"' in asked.text


# --- who reads what -------------------------------------------------------------------------


def test_each_reader_sees_the_case_and_coordinators_see_masked_names(
    client: TestClient, desk: Desk
) -> None:
    c = desk.ask()
    desk.session.commit()
    full = desk.w.patient.name
    masked = full[0] + "*"
    for username in ("clinician", "expert", "expert2", "bjcoord"):
        _logout(client)
        login(client, username)
        page = client.get(f"/consultations/{c.id}")
        assert page.status_code == 200, username
        assert c.reference in page.text
        if username == "bjcoord":
            assert full not in page.text
            assert masked in page.text
        else:
            assert full in page.text
        lists = client.get("/consultations")
        assert lists.status_code == 200, username
    _logout(client)
    login(client, "bjcoord")
    for name in ("pool", "at_risk"):
        r = client.get(f"/consultations?list={name}")
        assert r.status_code in (200, 422)
        assert full not in r.text


def test_another_institution_gets_404(client: TestClient, desk: Desk) -> None:
    c = desk.ask()
    desk.session.commit()
    login(client, "bd2clinician")
    assert client.get(f"/consultations/{c.id}").status_code == 404
    csrf = csrf_of(client.get("/consultations/new").text)
    r = client.post(
        f"/consultations/{c.id}/actions",
        data={"action": "cancel", "version": str(c.version), "reason": "x", "csrf_token": csrf},
    )
    assert r.status_code == 404
    r = client.post(f"/consultations/{c.id}/messages", data={"body": "x", "csrf_token": csrf})
    assert r.status_code == 404


def test_the_expert_sees_the_case_first_in_mine(client: TestClient, desk: Desk) -> None:
    routine = cf.consultation(desk.session, desk.w, urgency=Urgency.ROUTINE)
    c = desk.ask(urgency=Urgency.EMERGENCY)
    desk.session.commit()
    login(client, "expert")
    page = client.get("/consultations?list=mine")
    assert page.status_code == 200
    rows = re.findall(r'<tr data-reference="([^"]+)"', page.text)
    assert rows[:2] == [c.reference, routine.reference]


# --- the conversation through the forms ------------------------------------------------------


def test_question_reply_answer_and_referral_in_one_step(
    client: TestClient, session: Session, consult_world: cf.ConsultWorld
) -> None:
    w = consult_world
    login(client, "clinician")
    cid = _ask(client, w)
    _logout(client)

    login(client, "expert")
    status, text = _act(client, cid, "ask_asker", body="")
    assert status == 422
    assert _field_error(text, "ask_asker-body")
    status, _ = _act(client, cid, "ask_asker", body="Any cyanosis on feeding?")
    assert status == 303
    page = client.get(f"/consultations/{cid}")
    assert "paused: waiting for the asker" in page.text
    assert "The asker&#39;s turn" in page.text or "The asker's turn" in page.text
    _logout(client)

    login(client, "clinician")
    page = client.get(f"/consultations/{cid}")
    assert 'data-testid="your-turn"' in page.text
    status, _ = _act(client, cid, "reply", body="No cyanosis; feeds well.")
    assert status == 303
    _logout(client)

    login(client, "expert")
    assert 'data-testid="make-teaching-case"' not in client.get(f"/consultations/{cid}").text
    status, _ = _act(
        client,
        cid,
        "answer",
        assessment="Large perimembranous VSD with left heart volume load.",
        recommendations="Surgical closure within 3 months.",
        needs_visit="1",
    )
    assert status == 303
    page = client.get(f"/consultations/{cid}")
    assert 'data-testid="opinion"' in page.text
    assert 'data-testid="make-teaching-case"' in page.text
    assert 'data-testid="to-referral"' not in page.text  # the expert does not refer
    # the expert who answered may keep the case for teaching (anonymised)
    r = client.post(
        f"/consultations/{cid}/teaching-case",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/teaching-cases/")
    page = client.get(f"/consultations/{cid}")
    assert 'data-testid="teaching-case"' in page.text
    assert 'data-testid="make-teaching-case"' not in page.text
    kinds = re.findall(r'data-kind="(\w+)"', page.text)
    assert kinds[:2] == ["question", "reply"]
    _logout(client)

    login(client, "clinician")
    page = client.get(f"/consultations/{cid}")
    assert 'data-testid="to-referral"' in page.text
    r = client.post(
        f"/consultations/{cid}/referral",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    m = re.match(r"/referrals/(\d+)", r.headers["location"])
    assert m
    referral = session.get(Referral, int(m.group(1)))
    assert referral is not None and referral.patient_id == w.patient.id
    page = client.get(f"/consultations/{cid}")
    assert f'href="/referrals/{referral.id}"' in page.text
    assert 'data-testid="to-referral"' not in page.text
    # once: a second post is refused plainly
    again = client.post(f"/consultations/{cid}/referral", data={"csrf_token": csrf_of(page.text)})
    assert again.status_code == 409
    assert referral.reference in again.text


def test_a_note_joins_the_thread_and_an_empty_one_is_refused(
    client: TestClient, desk: Desk
) -> None:
    c = desk.ask()
    desk.session.commit()
    login(client, "expert")
    page = client.get(f"/consultations/{c.id}")
    csrf = csrf_of(page.text)
    empty = client.post(f"/consultations/{c.id}/messages", data={"body": "", "csrf_token": csrf})
    assert empty.status_code == 422
    assert _field_error(empty.text, "note-body")
    r = client.post(
        f"/consultations/{c.id}/messages",
        data={"body": "Looking at the echo now.", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(f"/consultations/{c.id}")
    assert "Looking at the echo now." in page.text
    assert desk.session.scalar(
        select(ConsultationMessage).where(ConsultationMessage.consultation_id == c.id)
    )


def test_a_lost_claim_is_told_plainly(client: TestClient, desk: Desk) -> None:
    c = cf.consultation(desk.session, desk.w, status=Status.POOL)
    desk.session.commit()
    login(client, "expert2")
    page = client.get(f"/consultations/{c.id}")
    assert 'data-testid="action-claim"' in page.text
    csrf = csrf_of(page.text)
    # the other expert is quicker
    desk.act(c, Action.CLAIM, "expert")
    desk.session.commit()
    r = client.post(
        f"/consultations/{c.id}/actions",
        data={"action": "claim", "version": str(c.version - 1), "csrf_token": csrf},
    )
    assert r.status_code == 409
    assert "Another expert took this case a moment before you" in r.text


def test_a_stale_form_says_someone_else_changed_it(client: TestClient, desk: Desk) -> None:
    c = desk.ask()
    desk.session.commit()
    old = c.version
    login(client, "clinician")
    page = client.get(f"/consultations/{c.id}")
    csrf = csrf_of(page.text)
    desk.act(c, Action.ASK_ASKER, "expert")
    desk.session.commit()
    r = client.post(
        f"/consultations/{c.id}/actions",
        data={"action": "reply", "version": str(old), "body": "late", "csrf_token": csrf},
    )
    assert r.status_code == 409
    assert "Someone else changed this consultation" in r.text


def test_the_coordinator_assigns_from_the_pool(client: TestClient, desk: Desk) -> None:
    c = cf.consultation(desk.session, desk.w, status=Status.POOL)
    desk.session.commit()
    login(client, "bjcoord")
    page = client.get(f"/consultations/{c.id}")
    assert 'data-testid="action-assign"' in page.text
    assert f'<option value="{desk.w.expert3.id}"' in page.text
    status, text = _act(client, c.id, "assign", assignee_user_id="")
    assert status == 422
    assert "Choose the expert." in _field_error(text, "assign-assignee_user_id")
    status, _ = _act(client, c.id, "assign", assignee_user_id=str(desk.w.expert3.id))
    assert status == 303
    desk.session.expire_all()
    assert desk.session.get(Consultation, c.id).assignee_user_id == desk.w.expert3.id  # type: ignore[union-attr]
    status, text = _act(client, c.id, "redirect", specialty_code="", reason="Adult heart")
    assert status == 422
    assert "Choose the specialty." in _field_error(text, "redirect-specialty_code")
    status, _ = _act(client, c.id, "redirect", specialty_code="cardiology", reason="Adult heart")
    assert status == 303
    desk.session.expire_all()
    moved = desk.session.get(Consultation, c.id)
    assert moved is not None and moved.specialty_code == "cardiology"
    page = client.get(f"/consultations/{c.id}")
    assert "Adult heart" in page.text  # the reason is in the history


# --- both languages --------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_pages_in_both_languages(
    client: TestClient, session: Session, desk: Desk, locale: str
) -> None:
    c = desk.ask()
    expert = session.scalar(select(User).where(User.username == "expert"))
    assert expert is not None
    expert.locale = locale
    session.commit()
    login(client, "expert")
    tr = zh if locale == "zh_Hans" else (lambda s: s)
    lists = client.get("/consultations?list=mine")
    assert tr("Consultations") in lists.text
    assert tr("Time left") in lists.text
    page = client.get(f"/consultations/{c.id}")
    assert tr("The expert's turn").replace("'", "&#39;") in page.text
    assert tr("Ask the asker") in page.text
    assert tr("Give the opinion") in page.text
    if locale == "zh_Hans":
        assert "会诊" in lists.text and "剩余" in page.text


# --- the home page and the menu ------------------------------------------------------------


def test_home_cards_and_menu_link(client: TestClient, desk: Desk) -> None:
    desk.ask()
    desk.session.commit()
    login(client, "expert")
    home = client.get("/")
    card = re.search(r'data-testid="card-consultations".*?</section>', home.text, re.S)
    assert card, "the expert has a consultations card"
    assert '<div class="stat">1</div>' in card.group(0)
    assert 'href="/consultations?list=mine"' in card.group(0)
    assert 'data-testid="nav-consultations"' in home.text
    _logout(client)
    login(client, "clinician")
    card = re.search(r'data-testid="card-consultations".*?</section>', client.get("/").text, re.S)
    assert card and 'href="/consultations/new"' in card.group(0)
    assert 'href="/consultations?list=asked"' in card.group(0)
    _logout(client)
    # no consultation permission: no card, no menu entry
    login(client, "auditor")
    home = client.get("/")
    assert 'data-testid="card-consultations"' not in home.text
    assert 'data-testid="nav-consultations"' not in home.text


def test_close_with_a_rating_and_cancel_with_a_reason(client: TestClient, desk: Desk) -> None:
    answered = desk.act(desk.ask(), Action.ANSWER, "expert")
    open_case = desk.ask()
    desk.session.commit()
    login(client, "clinician")
    status, text = _act(client, answered.id, "close", helpful="9")
    assert status == 422
    assert _field_error(text, "close-helpful")
    status, _ = _act(client, answered.id, "close", helpful="5", referral_avoided="yes")
    assert status == 303
    page = client.get(f"/consultations/{answered.id}?done=close")
    assert "Done: Close." in page.text
    assert re.search(r'data-testid="helpful">5<', page.text)
    status, text = _act(client, open_case.id, "cancel", reason="")
    assert status == 422
    assert _field_error(text, "cancel-reason")
    status, _ = _act(client, open_case.id, "cancel", reason="Seen by our own cardiologist")
    assert status == 303
    desk.session.expire_all()
    closed = desk.session.get(Consultation, answered.id)
    cancelled = desk.session.get(Consultation, open_case.id)
    assert closed is not None and closed.helpful == 5 and closed.referral_avoided is True
    assert cancelled is not None and cancelled.status == Status.CANCELLED.value
    # a finished case has no forms and takes no more notes
    page = client.get(f"/consultations/{open_case.id}")
    assert 'data-testid="actions"' not in page.text
    assert 'data-testid="note-form"' not in page.text


def test_the_pickers_and_who_may_ask(client: TestClient, consult_world: cf.ConsultWorld) -> None:
    w = consult_world
    login(client, "clinician")
    found = client.get("/consultations/patients", params={"patient_q": w.patient.name[:2]})
    assert found.status_code == 200
    assert f'<option value="{w.patient.id}"' in found.text
    codes = client.get("/consultations/icd10", params={"icd10_code": "Q21"})
    assert codes.status_code == 200 and 'data-code="Q21.0"' in codes.text
    _logout(client)
    login(client, "expert")
    assert client.get("/consultations/new").status_code == 403
    assert client.get("/consultations/icd10", params={"q": "Q21"}).status_code == 403
    assert 'data-testid="new-consultation"' not in client.get("/consultations").text


def test_an_mdt_names_its_further_specialties_and_links_the_sessions(
    client: TestClient, consult_world: cf.ConsultWorld
) -> None:
    w = consult_world
    login(client, "clinician")
    form = client.get("/consultations/new").text
    assert 'name="other_specialties" value="cardiology"' in form
    cid = _ask(client, w, mode="mdt", other_specialties="cardiology")
    page = client.get(f"/consultations/{cid}")
    specialty = re.search(r'data-testid="specialty">(.*?)</dd>', page.text, re.S)
    assert specialty and "Cardiology" in specialty.group(1)
    assert f'href="/consultations/{cid}/sessions"' in page.text
    # further specialties only for a team: a written case ignores them
    cid = _ask(client, w, mode="written", other_specialties="cardiology")
    specialty = re.search(
        r'data-testid="specialty">(.*?)</dd>', client.get(f"/consultations/{cid}").text, re.S
    )
    assert specialty and "Cardiology" not in specialty.group(1)


def test_files_are_attached_listed_and_refused_by_the_field(client: TestClient, desk: Desk) -> None:
    c = desk.ask()
    desk.session.commit()
    login(client, "clinician")
    page = client.get(f"/consultations/{c.id}")
    assert 'data-testid="upload-form"' in page.text
    csrf = csrf_of(page.text)
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    r = client.post(
        f"/consultations/{c.id}/attachments",
        data={"csrf_token": csrf},
        files={"file": ("echo-report.pdf", pdf, "application/pdf")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    page = client.get(f"/consultations/{c.id}?attached=1")
    assert "The file is attached." in page.text
    link = re.search(
        r'href="(/api/v1/consultations/\d+/attachments/\d+)"[^>]*>echo-report.pdf<', page.text
    )
    assert link
    download = client.get(link.group(1))
    assert download.status_code == 200 and download.content == pdf
    bad = client.post(
        f"/consultations/{c.id}/attachments",
        data={"csrf_token": csrf},
        files={"file": ("run.exe", b"MZ\x90\x00binary", "application/octet-stream")},
    )
    assert bad.status_code == 422
    assert _field_error(bad.text, "file")
    empty = client.post(f"/consultations/{c.id}/attachments", data={"csrf_token": csrf})
    assert empty.status_code == 422
    assert "Choose a file" in _field_error(empty.text, "file")
    # another institution sees no file
    _logout(client)
    login(client, "bd2clinician")
    assert client.get(link.group(1)).status_code == 404
