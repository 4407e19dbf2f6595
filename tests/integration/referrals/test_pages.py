"""The referral pages through the real app: worklists, the form and its refusals by field,
the detail with history and actions, the return referral, the family's status page, the
directory and the home cards. Other institutions see nothing (404)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.kit import crypto, i18n
from medcircle.patients.models import Patient
from medcircle.referrals.domain import Status, Urgency
from medcircle.referrals.models import Referral, StatusLink
from medcircle.referrals.status_pages import FAMILY_LABELS, FAMILY_TEXT
from tests import referral_factories as rf
from tests.factories import World, csrf_of, login

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@dataclass
class Circle:
    cw: rf.CircleWorld
    child: Patient
    # a second child without any consent
    unconsented: Patient


@pytest.fixture
def frozen() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def circle(session: Session, world: World, frozen: time_machine.Coordinates) -> Circle:
    cw = rf.referral_world(session, world)
    child = rf.patient(session, world.baoding, name="王小明")
    rf.consent(session, child, world.beijing, world.users[next(iter(world.users))])
    other = rf.patient(session, world.baoding, name="李小红", national_id=rf.ADULT_ID)
    session.commit()
    return Circle(cw, child, other)


def zh(message: str) -> str:
    text: str = i18n.translations("zh_Hans").ugettext(message)
    return text


def _form(circle: Circle, **overrides: str) -> dict[str, str]:
    values = {
        "patient_id": str(circle.child.id),
        "receiver_department_id": str(circle.cw.bj_paeds.id),
        "urgency": "urgent",
        "care_type": "outpatient",
        "icd10_code": "Q21.0",
        "diagnosis": "",
        "reason": "Surgical assessment of a VSD",
        "clinical_summary": "Murmur since birth; echo shows a 6 mm perimembranous VSD.",
        "submit": "1",
    }
    values.update(overrides)
    return values


def _field_error(html: str, field: str) -> str:
    m = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', html, re.S)
    assert m, f"no message by the field {field}"
    return m.group(1)


def _send(client: TestClient, circle: Circle, **overrides: str) -> int:
    """Submit a referral as BD-A's clinician through the form (logged in as them); its id."""
    if "medcircle_session" not in client.cookies:
        login(client, "clinician")
    csrf = csrf_of(client.get("/referrals/new").text)
    r = client.post(
        "/referrals/new",
        data={**_form(circle, **overrides), "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    m = re.match(r"/referrals/(\d+)\?saved=", r.headers["location"])
    assert m
    return int(m.group(1))


def _act(client: TestClient, referral_id: int, action: str, **fields: str) -> tuple[int, str]:
    page = client.get(f"/referrals/{referral_id}")
    assert page.status_code == 200
    version = re.search(
        rf'data-testid="action-{action}".*?name="version" value="(\d+)"', page.text, re.S
    )
    assert version, f"the page offers {action}"
    r = client.post(
        f"/referrals/{referral_id}/transitions",
        data={
            "action": action,
            "version": version.group(1),
            "csrf_token": csrf_of(page.text),
            **fields,
        },
        follow_redirects=False,
    )
    return r.status_code, r.text


# --- the form ------------------------------------------------------------------------------


def test_the_form_lists_own_patients_and_departments_with_their_wait(
    client: TestClient, circle: Circle
) -> None:
    login(client, "clinician")
    page = client.get(f"/referrals/new?patient_id={circle.child.id}")
    assert page.status_code == 200
    html = page.text
    assert "王小明" in html and "李小红" in html
    # departments of other institutions, in-network (BJ-A by the pairing) first, with the wait
    picker = html[html.index('id="f-receiver_department_id"') :]
    picker = picker[: picker.index("</select>")]
    assert "Beijing Hospital A" in picker
    assert "not enough data" in picker
    assert "Baoding Hospital A" not in picker  # never one's own institution
    assert picker.index("Beijing Hospital A") < picker.index("Beijing Hospital B")
    assert 'href="/patients/new"' in html


def test_submitting_the_form_sends_the_referral(
    client: TestClient, circle: Circle, session: Session
) -> None:
    referral_id = _send(client, circle)
    detail = client.get(f"/referrals/{referral_id}?saved=submitted")
    assert detail.status_code == 200
    r = session.get(Referral, referral_id)
    assert r is not None and r.status == Status.SUBMITTED.value
    assert r.reference in detail.text
    assert "The referral is submitted." in detail.text
    assert 'data-status="submitted"' in detail.text
    assert 'data-testid="triage-due"' in detail.text
    # the sender sees it in its outgoing list, with its live state
    outgoing = client.get("/referrals?list=outgoing").text
    assert r.reference in outgoing


def test_a_draft_is_saved_edited_and_submitted(
    client: TestClient, circle: Circle, session: Session
) -> None:
    referral_id = _send(client, circle, submit="0")
    page = client.get(f"/referrals/{referral_id}")
    assert 'data-status="draft"' in page.text
    edit = client.get(f"/referrals/{referral_id}/edit")
    assert edit.status_code == 200
    version = re.search(r'name="version" value="(\d+)"', edit.text)
    assert version
    r = client.post(
        f"/referrals/{referral_id}/edit",
        data={
            **_form(circle, reason="Assessment for closure", submit="1"),
            "version": version.group(1),
            "csrf_token": csrf_of(edit.text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    session.expire_all()
    saved = session.get(Referral, referral_id)
    assert saved is not None
    assert saved.status == Status.SUBMITTED.value and saved.reason == "Assessment for closure"


@pytest.mark.parametrize(
    ("case", "field", "words"),
    [
        ("no_consent", "patient_id", "consent"),
        ("bad_icd10", "icd10_code", "ICD-10"),
        ("own_institution", "receiver_department_id", ""),
        ("outside_network", "outside_network_reason", ""),
        ("blank_reason", "reason", "required"),
    ],
    ids=["no_consent", "bad_icd10", "own_institution", "outside_network", "blank_reason"],
)
def test_refusals_are_shown_by_their_field_and_nothing_is_lost(
    client: TestClient,
    circle: Circle,
    session: Session,
    world: World,
    case: str,
    field: str,
    words: str,
) -> None:
    overrides: dict[str, str] = {}
    if case == "no_consent":
        overrides["patient_id"] = str(circle.unconsented.id)
    elif case == "bad_icd10":
        overrides["icd10_code"] = "Q99.99"
    elif case == "own_institution":
        overrides["receiver_department_id"] = str(circle.cw.bd_paeds.id)
    elif case == "outside_network":
        # BJ-B has no agreement or alliance with BD-A
        rf.consent(session, circle.child, world.beijing2, circle.cw.bj_admin)
        session.commit()
        overrides["receiver_department_id"] = str(circle.cw.bj2_paeds.id)
    elif case == "blank_reason":
        overrides["reason"] = ""
    before = session.scalar(select(Referral.id).order_by(Referral.id.desc()).limit(1))
    csrf = login(client, "clinician")
    r = client.post(
        "/referrals/new",
        data={**_form(circle, **overrides), "csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 422, r.text
    message = _field_error(r.text, field)
    assert words.lower() in message.lower()
    # what was typed is still there
    assert "Murmur since birth; echo shows a 6 mm perimembranous VSD." in r.text
    if case != "blank_reason":
        assert "Surgical assessment of a VSD" in r.text
    if case == "outside_network":
        # the reason's field is shown (not hidden) once it is needed
        box = r.text[
            r.text.index('id="outside-network"') - 200 : r.text.index('id="outside-network"') + 200
        ]
        assert "hidden" not in box.split(">")[0]
    session.expire_all()
    assert session.scalar(select(Referral.id).order_by(Referral.id.desc()).limit(1)) == before


def test_outside_network_with_a_reason_is_sent_and_flagged(
    client: TestClient, circle: Circle, session: Session, world: World
) -> None:
    rf.consent(session, circle.child, world.beijing2, circle.cw.bj_admin)
    session.commit()
    referral_id = _send(
        client,
        circle,
        receiver_department_id=str(circle.cw.bj2_paeds.id),
        outside_network_reason="The family lives near BJ-B",
    )
    page = client.get(f"/referrals/{referral_id}").text
    assert 'data-testid="outside-network-flag"' in page
    assert "The family lives near BJ-B" in page


def test_the_icd10_lookup_offers_codes(client: TestClient, circle: Circle) -> None:
    login(client, "clinician")
    found = client.get("/referrals/icd10?icd10_code=Q21", headers={"HX-Request": "true"})
    assert found.status_code == 200
    assert 'data-code="Q21.0"' in found.text
    words = client.get("/referrals/icd10?icd10_code=septal", headers={"HX-Request": "true"})
    assert "Q21" in words.text
    nothing = client.get("/referrals/icd10?icd10_code=zzzzqqq", headers={"HX-Request": "true"})
    assert "No ICD-10 code matches." in nothing.text


def test_the_pickers_narrow_by_search(client: TestClient, circle: Circle) -> None:
    login(client, "clinician")
    patients = client.get("/referrals/patients?patient_q=王", headers={"HX-Request": "true"}).text
    assert "王小明" in patients and "李小红" not in patients
    departments = client.get(
        "/referrals/departments?department_q=Hospital B", headers={"HX-Request": "true"}
    ).text
    assert "Beijing Hospital B" in departments and "Beijing Hospital A" not in departments


# --- worklists -----------------------------------------------------------------------------


def test_incoming_is_most_urgent_then_oldest_with_overdue_marked(
    client: TestClient, circle: Circle, session: Session, world: World
) -> None:
    sender = world.users[next(r for r in world.users if r.value == "clinician")]
    old = rf.referral(
        session,
        circle.child,
        sender,
        circle.cw.bj_paeds,
        submitted_at=NOW - timedelta(days=5),
        triage_due_at=NOW - timedelta(days=2),
    )
    urgent = rf.referral(
        session,
        circle.child,
        sender,
        circle.cw.bj_paeds,
        urgency=Urgency.URGENT,
        submitted_at=NOW - timedelta(hours=1),
        triage_due_at=NOW + timedelta(hours=23),
    )
    session.commit()
    login(client, "bjclinician")
    page = client.get("/referrals").text
    assert 'data-list="incoming"' in page
    assert re.search(r'data-testid="count-incoming">2<', page)
    assert page.index(urgent.reference) < page.index(old.reference)
    row = page[page.index(f'data-reference="{old.reference}"') :]
    row = row[: row.index("</tr>")]
    assert 'data-testid="overdue"' in row
    # filters: urgency, and the reference
    only_urgent = client.get("/referrals?list=incoming&urgency=urgent").text
    assert urgent.reference in only_urgent and old.reference not in only_urgent
    by_ref = client.get(f"/referrals?list=incoming&q={old.reference}").text
    assert old.reference in by_ref and urgent.reference not in by_ref
    # a bad filter is reported, not fatal
    bad = client.get("/referrals?list=incoming&urgency=soon")
    assert bad.status_code == 422 and "Check this value." in bad.text


def test_alliance_admins_see_only_the_escalated_list(client: TestClient, circle: Circle) -> None:
    login(client, "allianceadmin")
    page = client.get("/referrals")
    assert page.status_code == 200
    assert 'data-list="escalated"' in page.text
    assert 'data-testid="tab-incoming"' not in page.text
    home = client.get("/").text
    assert 'data-testid="card-escalated"' in home


def test_roles_without_referrals_are_refused(client: TestClient, circle: Circle) -> None:
    login(client, "auditor")
    assert client.get("/referrals").status_code == 403
    assert client.get("/referrals/new").status_code == 403


# --- detail, access, the loop ------------------------------------------------------------


def test_other_institutions_get_not_found(client: TestClient, circle: Circle) -> None:
    referral_id = _send(client, circle)
    client.cookies.clear()
    csrf = login(client, "bd2clinician")
    assert client.get(f"/referrals/{referral_id}").status_code == 404
    assert client.get(f"/referrals/{referral_id}/return").status_code == 404
    r = client.post(
        f"/referrals/{referral_id}/transitions",
        data={"action": "accept", "version": "1", "csrf_token": csrf},
    )
    assert r.status_code == 404
    r = client.post(f"/referrals/{referral_id}/status-link", data={"csrf_token": csrf})
    assert r.status_code == 404
    # the expert of BJ-A reads, but acts on nothing
    client.cookies.clear()
    login(client, "expert")
    page = client.get(f"/referrals/{referral_id}")
    assert page.status_code == 200
    assert 'data-testid="actions"' not in page.text


def test_the_whole_loop_through_the_pages(
    client: TestClient, circle: Circle, session: Session, frozen: time_machine.Coordinates
) -> None:
    referral_id = _send(client, circle)
    client.cookies.clear()
    login(client, "bjclinician")
    page = client.get(f"/referrals/{referral_id}").text
    for action in ("accept", "decline", "redirect", "cancel"):
        assert f'data-testid="action-{action}"' in page
    assert 'data-testid="action-schedule"' not in page
    # a decline without its reason is refused by the field, nothing changes
    status, html = _act(client, referral_id, "decline")
    assert status == 422
    assert _field_error(html, "decline-reason")
    assert _act(client, referral_id, "accept")[0] == 303
    # schedule: date and time in Beijing time, the place and what to bring
    status, html = _act(client, referral_id, "schedule", appointment_at="", appointment_place="")
    assert status == 422
    assert _field_error(html, "schedule-appointment_at")
    status, _ = _act(
        client,
        referral_id,
        "schedule",
        appointment_at="2026-11-26T09:30",
        appointment_place="Clinic building 2, room 305",
        what_to_bring="Earlier echo reports",
    )
    assert status == 303
    session.expire_all()
    r = session.get(Referral, referral_id)
    assert r is not None
    assert r.appointment_at == datetime(2026, 11, 26, 1, 30, tzinfo=UTC)
    page = client.get(f"/referrals/{referral_id}").text
    assert "2026-11-26 09:30" in page and "Clinic building 2, room 305" in page
    frozen.move_to(datetime(2026, 11, 26, 1, 40, tzinfo=UTC))
    client.cookies.clear()
    login(client, "bjclinician")
    assert _act(client, referral_id, "arrive")[0] == 303
    status, _ = _act(
        client, referral_id, "complete", outcome_summary="VSD closed; follow up in 3 months."
    )
    assert status == 303
    page = client.get(f"/referrals/{referral_id}").text
    assert 'data-status="completed"' in page
    history = page[page.index('data-testid="history"') :]
    for step in ("submit", "accept", "schedule", "arrive", "complete"):
        assert f'data-action="{step}"' in history
    # the return referral, prefilled, back to the sender
    assert 'data-testid="create-return"' in page
    form = client.get(f"/referrals/{referral_id}/return")
    assert form.status_code == 200
    assert "VSD closed" in form.text or "Q21.0" in form.text
    assert 'value="Q21.0"' in form.text
    dept = re.search(
        r'<option value="(\d+)"[^>]*selected',
        form.text[form.text.index('id="f-receiver_department_id"') :],
    )
    assert dept and int(dept.group(1)) == circle.cw.bd_paeds.id
    fields = {
        name: value
        for name, value in re.findall(
            r'<input[^>]*name="([a-z_0-9]+)"[^>]*value="([^"]*)"', form.text
        )
    }
    r2 = client.post(
        f"/referrals/{referral_id}/return",
        data={
            **_form(circle, receiver_department_id=dept.group(1), urgency="routine"),
            "patient_id": fields.get("patient_id", ""),
            "reason": "Follow-up after VSD closure",
            "clinical_summary": "Closed on 26 November; check the wound and the echo in 3 months.",
            "csrf_token": csrf_of(form.text),
        },
        follow_redirects=False,
    )
    assert r2.status_code == 303, r2.text
    return_id = int(re.match(r"/referrals/(\d+)", r2.headers["location"]).group(1))  # type: ignore[union-attr]
    page = client.get(f"/referrals/{referral_id}").text
    assert f'href="/referrals/{return_id}"' in page
    assert 'data-testid="create-return"' not in page
    # the sender follows everything: the original (with its history) and the return
    client.cookies.clear()
    login(client, "clinician")
    original = client.get(f"/referrals/{referral_id}").text
    assert 'data-action="complete"' in original and "VSD closed" in original
    incoming = client.get("/referrals?list=incoming").text
    back = session.get(Referral, return_id)
    assert back is not None and back.reference in incoming


def test_a_stale_form_gets_the_conflict_message(client: TestClient, circle: Circle) -> None:
    referral_id = _send(client, circle)
    client.cookies.clear()
    login(client, "bjclinician")
    page = client.get(f"/referrals/{referral_id}")
    version = re.search(
        r'data-testid="action-accept".*?name="version" value="(\d+)"', page.text, re.S
    )
    assert version
    csrf = csrf_of(page.text)
    first = client.post(
        f"/referrals/{referral_id}/transitions",
        data={"action": "accept", "version": version.group(1), "csrf_token": csrf},
        follow_redirects=False,
    )
    assert first.status_code == 303
    # the same (now stale) form again: the second triager
    second = client.post(
        f"/referrals/{referral_id}/transitions",
        data={
            "action": "decline",
            "version": version.group(1),
            "reason": "Full",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert second.status_code == 409
    assert "The action was not carried out." in second.text
    assert "Someone else changed this referral after you opened it." in second.text
    # exactly one answer was recorded
    page = client.get(f"/referrals/{referral_id}").text
    assert 'data-status="accepted"' in page
    assert page.count('data-action="accept"') == 1 and 'data-action="decline"' not in page


# --- the family's status link -----------------------------------------------------------


def test_the_family_status_link(
    client: TestClient, circle: Circle, session: Session, frozen: time_machine.Coordinates
) -> None:
    referral_id = _send(client, circle)
    client.cookies.clear()
    login(client, "bjclinician")
    _act(client, referral_id, "accept")
    _act(
        client,
        referral_id,
        "schedule",
        appointment_at="2026-11-26T09:30",
        appointment_place="Clinic building 2, room 305",
        what_to_bring="Earlier echo reports",
    )
    page = client.get(f"/referrals/{referral_id}")
    made = client.post(
        f"/referrals/{referral_id}/status-link", data={"csrf_token": csrf_of(page.text)}
    )
    assert made.status_code == 200
    assert "no-store" in made.headers.get("cache-control", "")
    url = re.search(r'data-testid="status-link-url"[^>]*>([^<]+)<', made.text)
    assert url
    path = "/status/" + url.group(1).rsplit("/status/", 1)[1]
    # the family: no login, Chinese by default, English on request, nothing clinical
    client.cookies.clear()
    family = client.get(path)
    assert family.status_code == 200
    assert 'lang="zh-Hans"' in family.text
    assert zh("Appointment booked") in family.text
    assert "北京甲医院" in family.text and "小儿心脏科" in family.text
    assert "2026-11-26 09:30" in family.text
    assert "Clinic building 2, room 305" in family.text and "Earlier echo reports" in family.text
    for secret in ("Q21.0", "Murmur", "王小明", rf.CHILD_ID[:6]):
        assert secret not in family.text
    assert '<meta name="robots" content="noindex' in family.text
    assert "no-store" in family.headers["cache-control"]
    assert "noindex" in family.headers["x-robots-tag"]
    assert 'class="mainnav"' not in family.text
    english = client.get(path + "?lang=en")
    assert 'lang="en"' in english.text
    assert (
        "Beijing Hospital A" in english.text
        and "You have an appointment" in english.text
        and "Appointment booked" in english.text
    )
    # a forged link, and the link once expired
    forged = client.get("/status/forged-token-0123456789")
    assert forged.status_code == 404
    assert zh("This status link does not work") in forged.text
    frozen.move_to(NOW + timedelta(days=31))
    expired = client.get(path + "?lang=en")
    assert expired.status_code == 410
    assert "This status link has expired" in expired.text
    session.expire_all()
    refusals = session.scalars(
        select(AuditEvent.detail).where(AuditEvent.action == "status_link.view")
    ).all()
    assert any(d.get("code") == "status_link_expired" for d in refusals)


# --- directory and home -------------------------------------------------------------------


def test_the_directory_shows_departments_with_their_current_wait(
    client: TestClient, circle: Circle, session: Session, world: World
) -> None:
    sender = world.users[next(r for r in world.users if r.value == "clinician")]
    for days in (4, 6, 8):
        rf.referral(
            session,
            circle.child,
            sender,
            circle.cw.bj_paeds,
            status=Status.SCHEDULED,
            submitted_at=NOW - timedelta(days=20),
            appointment_at=NOW - timedelta(days=20 - days),
        )
    session.commit()
    login(client, "clinician")
    page = client.get("/directory")
    assert page.status_code == 200
    row = page.text[page.text.index(f'data-department="{circle.cw.bj_paeds.id}"') :]
    row = row[: row.index("</tr>")]
    assert "about 6 days (3 referrals)" in row
    assert "In your network" in row
    filtered = client.get(f"/directory?institution_id={world.beijing2.id}").text
    assert (
        "Beijing Hospital B" in filtered
        and f'data-department="{circle.cw.bj_paeds.id}"' not in filtered
    )
    assert client.get("/directory?institution_id=abc").status_code == 422
    assert client.get(f"/directory?institution_id={2**40}").status_code == 422


def test_home_cards_show_worklist_counts_and_first_steps(
    client: TestClient, circle: Circle
) -> None:
    _send(client, circle)
    home = client.get("/").text
    assert 'data-testid="card-referrals"' in home
    assert 'href="/referrals?list=outgoing"' in home
    assert 'href="/referrals/new"' in home and 'href="/patients/new"' in home
    client.cookies.clear()
    login(client, "bjclinician")
    home = client.get("/").text
    card = home[home.index('data-testid="card-referrals"') :]
    assert re.search(r'class="stat">1<', card)


# --- attachments --------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def test_the_sender_attaches_a_report_and_both_sides_read_it(
    client: TestClient, circle: Circle
) -> None:
    referral_id = _send(client, circle)
    page = client.get(f"/referrals/{referral_id}")
    csrf = csrf_of(page.text)
    refused = client.post(
        f"/referrals/{referral_id}/attachments",
        data={"csrf_token": csrf},
        files={"file": ("notes.pdf", b"just some text, not a PDF", "application/pdf")},
    )
    assert refused.status_code == 422
    assert _field_error(refused.text, "file")
    missing = client.post(f"/referrals/{referral_id}/attachments", data={"csrf_token": csrf})
    assert missing.status_code == 422
    assert "Choose a file to attach." in _field_error(missing.text, "file")
    done = client.post(
        f"/referrals/{referral_id}/attachments",
        data={"csrf_token": csrf},
        files={"file": ("echo-report.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    shown = client.get(done.headers["location"]).text
    assert "The file is attached." in shown
    link = re.search(rf'href="(/referrals/{referral_id}/attachments/\d+)"', shown)
    assert link and "echo-report.pdf" in shown
    got = client.get(link.group(1))
    assert got.status_code == 200 and got.content == PDF
    assert "attachment" in got.headers["content-disposition"]
    # the receiving side reads it, but attaches nothing; another institution sees nothing
    client.cookies.clear()
    login(client, "bjclinician")
    receiver = client.get(f"/referrals/{referral_id}").text
    assert "echo-report.pdf" in receiver and 'data-testid="upload-form"' not in receiver
    assert client.get(link.group(1)).status_code == 200
    client.cookies.clear()
    login(client, "bd2clinician")
    assert client.get(link.group(1)).status_code == 404


def test_a_redirect_to_another_department_of_ones_own_hospital(
    client: TestClient, circle: Circle, session: Session
) -> None:
    referral_id = _send(client, circle)
    client.cookies.clear()
    login(client, "bjclinician")
    page = client.get(f"/referrals/{referral_id}").text
    form = page[page.index('data-testid="action-redirect"') :]
    form = form[: form.index("</form>")]
    # one's own other departments (with their wait) and other hospitals' departments
    assert f'<option value="{circle.cw.bj_cardio.id}"' in form
    assert f'<option value="{circle.cw.bj_paeds.id}"' not in form  # the current one
    assert f'<option value="{circle.cw.bj2_paeds.id}"' in form
    status, html = _act(client, referral_id, "redirect", reason="Adult congenital clinic")
    assert status == 422 and _field_error(html, "redirect-receiver_department_id")
    status, _ = _act(
        client,
        referral_id,
        "redirect",
        reason="Better seen by cardiology",
        receiver_department_id=str(circle.cw.bj_cardio.id),
    )
    assert status == 303
    session.expire_all()
    original = session.get(Referral, referral_id)
    assert original is not None and original.redirected_to_id is not None
    page = client.get(f"/referrals/{referral_id}").text
    assert 'data-testid="redirected-link"' in page and 'data-status="redirected"' in page
    follow = client.get(f"/referrals/{original.redirected_to_id}").text
    assert f"Redirected from {original.reference}" in follow
    assert 'data-testid="parent-link"' in follow


# --- whatever is typed, a page answers with a page ----------------------------------------

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    urgency=_TEXT,
    direction=_TEXT,
    q=_TEXT,
    list_name=st.sampled_from(["incoming", "outgoing", "scheduled", "nonsense", ""]),
)
def test_worklist_filters_never_fail(
    client: TestClient, circle: Circle, urgency: str, direction: str, q: str, list_name: str
) -> None:
    if "medcircle_session" not in client.cookies:
        login(client, "clinician")
    r = client.get(
        "/referrals",
        params={"list": list_name, "urgency": urgency, "direction": direction, "q": q},
    )
    assert r.status_code in (200, 422), r.text[:300]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    patient_id=st.one_of(_TEXT, st.integers(-(2**40), 2**40).map(str)),
    department_id=st.one_of(_TEXT, st.integers(-(2**40), 2**40).map(str)),
    urgency=st.one_of(_TEXT, st.sampled_from(["urgent", "routine"])),
    icd10=_TEXT,
)
def test_forms_refuse_any_input_by_field_never_with_an_error_page(
    client: TestClient,
    circle: Circle,
    patient_id: str,
    department_id: str,
    urgency: str,
    icd10: str,
) -> None:
    if "medcircle_session" not in client.cookies:
        login(client, "clinician")
    page = client.get("/referrals/new")
    r = client.post(
        "/referrals/new",
        data={
            **_form(
                circle,
                patient_id=patient_id,
                receiver_department_id=department_id,
                urgency=urgency,
                icd10_code=icd10,
            ),
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert r.status_code in (303, 422), r.text[:300]
    if r.status_code == 422:
        assert 'class="field-error"' in r.text or 'data-testid="form-errors"' in r.text


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    action=st.one_of(_TEXT, st.sampled_from(["accept", "schedule", "redirect", "decline"])),
    version=st.one_of(_TEXT, st.integers(-(2**40), 2**40).map(str)),
    appointment=st.one_of(
        _TEXT,
        st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
            lambda d: d.strftime("%Y-%m-%dT%H:%M")
        ),
    ),
    department_id=st.one_of(_TEXT, st.integers(-(2**40), 2**40).map(str)),
)
def test_action_forms_refuse_any_input_never_with_an_error_page(
    client: TestClient,
    circle: Circle,
    session: Session,
    world: World,
    action: str,
    version: str,
    appointment: str,
    department_id: str,
) -> None:
    if "medcircle_session" not in client.cookies:
        sender = world.users[next(r for r in world.users if r.value == "clinician")]
        rf.referral(session, circle.child, sender, circle.cw.bj_paeds, reference="T-FUZZ-1")
        session.commit()
        login(client, "bjclinician")
    referral_id = session.scalar(select(Referral.id).where(Referral.reference == "T-FUZZ-1"))
    page = client.get(f"/referrals/{referral_id}")
    r = client.post(
        f"/referrals/{referral_id}/transitions",
        data={
            "action": action,
            "version": version,
            "appointment_at": appointment,
            "appointment_place": "Room 1",
            "receiver_department_id": department_id,
            "reason": "Because",
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert r.status_code in (303, 409, 422), r.text[:300]


def test_a_draft_is_submitted_or_cancelled_from_its_page(
    client: TestClient, circle: Circle, session: Session
) -> None:
    first = _send(client, circle, submit="0")
    second = _send(client, circle, submit="0")
    page = client.get(f"/referrals/{first}").text
    assert 'data-testid="action-submit"' in page and 'data-testid="edit-draft"' in page
    assert 'data-testid="create-status-link"' not in page
    assert _act(client, first, "submit")[0] == 303
    assert _act(client, second, "cancel")[0] == 303
    session.expire_all()
    sent, dropped = session.get(Referral, first), session.get(Referral, second)
    assert sent is not None and sent.status == Status.SUBMITTED.value
    assert dropped is not None and dropped.status == Status.CANCELLED.value
    # nothing leaves a list silently: the cancelled draft's page keeps its history
    history = client.get(f"/referrals/{second}").text
    assert 'data-action="cancel"' in history


def test_a_redirect_to_another_hospital_keeps_both_pages_readable(
    client: TestClient, circle: Circle, session: Session, world: World
) -> None:
    rf.consent(session, circle.child, world.beijing2, circle.cw.bj_admin)
    session.commit()
    referral_id = _send(client, circle)
    client.cookies.clear()
    login(client, "bjclinician")
    status, html = _act(
        client,
        referral_id,
        "redirect",
        reason="Hospital B runs the paediatric cardiac clinic",
        receiver_department_id=str(circle.cw.bj2_paeds.id),
    )
    assert status == 303, html
    # the first receiver still reads its own answer, but not the new referral
    page = client.get(f"/referrals/{referral_id}")
    assert page.status_code == 200
    assert "Redirected to another hospital, which now handles it." in page.text
    assert 'data-testid="redirected-link"' not in page.text
    # the sender follows both
    client.cookies.clear()
    login(client, "clinician")
    page = client.get(f"/referrals/{referral_id}").text
    link = re.search(r'data-testid="redirected-link"[^>]*>([^<]+)<', page) or re.search(
        r'href="/referrals/(\d+)" data-testid="redirected-link"', page
    )
    assert link
    session.expire_all()
    original = session.get(Referral, referral_id)
    assert original is not None and original.redirected_to_id
    follow = client.get(f"/referrals/{original.redirected_to_id}").text
    assert "Beijing Hospital B" in follow and 'data-testid="parent-link"' in follow


@pytest.mark.parametrize("state", list(Status), ids=[s.value for s in Status])
def test_the_family_page_speaks_plainly_of_every_state(
    client: TestClient, circle: Circle, session: Session, world: World, state: Status
) -> None:
    sender = world.users[next(r for r in world.users if r.value == "clinician")]
    r = rf.referral(session, circle.child, sender, circle.cw.bj_paeds, status=state)
    token = crypto.new_token()
    session.add(
        StatusLink(
            referral_id=r.id,
            token_digest=crypto.token_digest(token),
            created_by_user_id=sender.id,
            created_at=NOW,
            expires_at=NOW + timedelta(days=30),
        )
    )
    session.commit()
    page = client.get(f"/status/{token}?lang=zh_Hans")
    assert page.status_code == 200
    assert zh(FAMILY_LABELS[state]) in page.text
    assert zh(FAMILY_TEXT[state]) in page.text
    english = client.get(f"/status/{token}?lang=en").text
    assert FAMILY_LABELS[state] in english
