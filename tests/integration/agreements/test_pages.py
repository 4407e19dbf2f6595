"""Pages of agreements: list, forms (422 with the message next to the field, 303 on success),
details with goals, termination, framework agreements."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.agreements.models import AgreementGoal, CooperationAgreement, FrameworkAgreement
from medcircle.auth.domain import Role
from tests import agreement_factories as af
from tests.factories import World, login


@pytest.fixture(autouse=True)
def frozen_today() -> Any:
    with time_machine.travel("2026-06-01T04:00:00+00:00", tick=False):
        yield


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def form(world: World, csrf: str, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf_token": csrf,
        "kind": "specialty_support",
        "supporting_institution_id": str(world.beijing.id),
        "supported_institution_id": str(world.baoding.id),
        "starts_on": "2026-01-01",
        "ends_on": "2029-01-01",
        "specialties": ["neonatology", "ped_surgery"],
    }
    data.update(kw)
    return data


def test_list_shows_active_ending_soon_and_overdue(
    client: TestClient, world: World, session: Session
) -> None:
    a = af.agreement(session, world.beijing, world.baoding, ends_on=date(2026, 10, 1))
    af.goal(session, a, due_on=date(2026, 2, 1), description="建立新生儿重症监护室")
    af.agreement(
        session, world.beijing, world.baoding2, starts_on=date(2019, 1, 1), ends_on=date(2022, 1, 1)
    )
    session.commit()
    login(client, "commissionanalyst")
    r = client.get("/agreements")
    assert r.status_code == 200
    assert a.code in r.text
    assert 'data-testid="ends-soon"' in r.text
    assert "建立新生儿重症监护室" in r.text or "Lead a regional medical centre" in r.text
    assert 'data-testid="new-agreement"' in r.text
    bad = client.get("/agreements", params={"active_on": "not-a-date"})
    assert bad.status_code == 422
    assert "YYYY-MM-DD" in bad.text


def test_clinician_sees_no_edit_controls(
    client: TestClient, world: World, session: Session
) -> None:
    a = af.agreement(session, world.beijing, world.baoding)
    session.commit()
    login(client, "clinician")
    listing = client.get("/agreements")
    assert 'data-testid="new-agreement"' not in listing.text
    page = client.get(f"/agreements/{a.id}")
    assert page.status_code == 200
    assert 'data-testid="edit-agreement"' not in page.text
    assert 'data-testid="upload-form"' not in page.text
    assert 'data-testid="terminate-form"' not in page.text
    assert client.get("/agreements/new").status_code == 403


def test_new_agreement_form_success_redirects_and_warns(
    client: TestClient, world: World, session: Session
) -> None:
    csrf = login(client, "institutionadmin")
    page = client.get("/agreements/new")
    assert page.status_code == 200
    assert 'name="specialties"' in page.text and 'id="licensed-name"' in page.text
    r = client.post(
        "/agreements/new", data=form(world, csrf, ends_on="2027-01-01"), follow_redirects=False
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"].endswith("?saved=1")
    shown = client.get(r.headers["location"])
    assert 'data-testid="warnings"' in shown.text
    assert "3 to 5 years" in shown.text


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"specialties": ["neonatology"]}, "specialties", "2 to 4 specialties"),
        ({"ends_on": "2025-01-01"}, "ends_on", "end date must be after"),
        ({"supported_institution_id": None}, "supported_institution_id", "Choose the supported"),
        ({"starts_on": "01/02/2026"}, "starts_on", "YYYY-MM-DD"),
    ],
)
def test_new_agreement_bad_input_rerenders_with_message(
    client: TestClient,
    world: World,
    session: Session,
    changes: dict[str, Any],
    field: str,
    text: str,
) -> None:
    csrf = login(client, "commissionanalyst")
    before = count(session, CooperationAgreement)
    data = {k: v for k, v in form(world, csrf, **changes).items() if v is not None}
    r = client.post("/agreements/new", data=data, follow_redirects=False)
    assert r.status_code == 422
    assert f'id="{field}-error"' in r.text
    assert text in r.text
    assert count(session, CooperationAgreement) == before


def test_same_party_message_next_to_field(
    client: TestClient, world: World, session: Session
) -> None:
    csrf = login(client, "commissionanalyst")
    data = form(world, csrf, supported_institution_id=str(world.beijing.id))
    r = client.post("/agreements/new", data=data)
    assert r.status_code == 422
    assert 'id="supported_institution_id-error"' in r.text
    assert "must be different" in r.text


def test_form_needs_csrf(client: TestClient, world: World, session: Session) -> None:
    login(client, "commissionanalyst")
    r = client.post("/agreements/new", data=form(world, "forged"))
    assert r.status_code == 403


def test_edit_and_stale_version(client: TestClient, world: World, session: Session) -> None:
    a = af.agreement(session, world.beijing, world.baoding)
    session.commit()
    csrf = login(client, "institutionadmin")
    page = client.get(f"/agreements/{a.id}/edit")
    assert page.status_code == 200 and f'value="{a.version}"' in page.text
    data = form(
        world, csrf, version=str(a.version), title_zh="新标题", title_en="New title", code=a.code
    )
    ok = client.post(f"/agreements/{a.id}/edit", data=data, follow_redirects=False)
    assert ok.status_code == 303
    stale = client.post(f"/agreements/{a.id}/edit", data=data, follow_redirects=False)
    assert stale.status_code == 409
    assert "Someone else changed this" in stale.text


def test_goals_add_and_inline_update(client: TestClient, world: World, session: Session) -> None:
    a = af.agreement(session, world.beijing, world.baoding)
    session.commit()
    csrf = login(client, "institutionadmin")
    missing = client.post(
        f"/agreements/{a.id}/goals", data={"csrf_token": csrf, "due_on": "2027-01-01"}
    )
    assert missing.status_code == 422
    assert 'id="description_zh-error"' in missing.text
    r = client.post(
        f"/agreements/{a.id}/goals",
        data={"csrf_token": csrf, "description_zh": "开设儿童重症病房", "due_on": "2026-03-01"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    goal = session.scalar(select(AgreementGoal).where(AgreementGoal.agreement_id == a.id))
    assert goal is not None
    page = client.get(f"/agreements/{a.id}")
    assert 'data-testid="goal-overdue"' in page.text
    future = client.post(
        f"/agreements/goals/{goal.id}",
        data={"status": "achieved", "achieved_on": "2027-01-01"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert future.status_code == 200
    assert "cannot be in the future" in future.text
    done = client.post(
        f"/agreements/goals/{goal.id}",
        data={"status": "achieved", "achieved_on": "2026-05-20", "progress_note": "已开设"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert done.status_code == 200
    assert done.text.lstrip().startswith("<tr") and 'data-status="achieved"' in done.text
    # the row form sends the stored achievement date back; reopening the goal drops it
    reopened = client.post(
        f"/agreements/goals/{goal.id}",
        data={"status": "in_progress", "achieved_on": "2026-05-20"},
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert 'data-status="in_progress"' in reopened.text
    plain = client.post(
        f"/agreements/goals/{goal.id}",
        data={"csrf_token": csrf, "status": "in_progress"},
        follow_redirects=False,
    )
    assert plain.status_code == 303
    session.expire_all()
    g = session.get(AgreementGoal, goal.id)
    assert g is not None and g.status == "in_progress" and g.achieved_on is None


def test_terminate_page(client: TestClient, world: World, session: Session) -> None:
    a = af.agreement(session, world.beijing, world.baoding)
    session.commit()
    csrf = login(client, "commissionanalyst")
    bad = client.post(
        f"/agreements/{a.id}/terminate",
        data={"csrf_token": csrf, "version": str(a.version), "terminated_on": "2026-05-01"},
    )
    assert bad.status_code == 422 and 'id="reason-error"' in bad.text
    ok = client.post(
        f"/agreements/{a.id}/terminate",
        data={
            "csrf_token": csrf,
            "version": str(a.version),
            "terminated_on": "2026-05-01",
            "reason": "合并",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    page = client.get(f"/agreements/{a.id}")
    assert 'data-status="terminated"' in page.text
    assert 'data-testid="terminate-form"' not in page.text


def test_frameworks_pages(client: TestClient, world: World, session: Session) -> None:
    csrf = login(client, "commissionanalyst")
    assert client.get("/frameworks").status_code == 200
    assert client.get("/frameworks/new").status_code == 200
    data = {
        "csrf_token": csrf,
        "title_zh": "京保医疗合作框架协议",
        "title_en": "Beijing–Baoding medical cooperation framework",
        "party_a": "北京市卫生健康委员会",
        "party_a_division_code": "110000",
        "party_b": "保定市人民政府",
        "party_b_division_code": "130600",
        "signed_on": "2017-03-01",
        "starts_on": "2017-04-01",
        "ends_on": "2017-01-01",
    }
    before = count(session, FrameworkAgreement)
    bad = client.post("/frameworks/new", data=data)
    assert bad.status_code == 422 and 'id="ends_on-error"' in bad.text
    assert count(session, FrameworkAgreement) == before
    data["ends_on"] = ""
    ok = client.post("/frameworks/new", data=data, follow_redirects=False)
    assert ok.status_code == 303
    detail = client.get(ok.headers["location"])
    assert "京保医疗合作框架协议" in detail.text or "Beijing–Baoding medical" in detail.text
    fw_id = int(ok.headers["location"].split("/")[2].split("?")[0])
    edit = client.get(f"/frameworks/{fw_id}/edit")
    assert edit.status_code == 200


def test_frameworks_readonly_for_institution_admin(client: TestClient, world: World) -> None:
    login(client, "institutionadmin")
    page = client.get("/frameworks")
    assert page.status_code == 200 and 'data-testid="new-framework"' not in page.text
    assert client.get("/frameworks/new").status_code == 403


def test_pages_in_simplified_chinese(client: TestClient, world: World, session: Session) -> None:
    world.users[Role.COMMISSION_ANALYST].locale = "zh_Hans"
    fw = af.framework(session)
    a = af.agreement(session, world.beijing, world.baoding, framework_id=fw.id, kind="trusteeship")
    af.goal(session, a, due_on=date(2026, 1, 1))
    session.commit()
    login(client, "commissionanalyst")
    checks = {
        "/agreements": ["合作协议", "6 个月内到期", "逾期目标"],
        f"/agreements/{a.id}": ["托管", "添加目标", "上传文件", "终止协议"],
        "/agreements/new": ["新建合作协议", "支援机构", "受援机构"],
        f"/agreements/{a.id}/edit": ["编辑协议"],
        "/frameworks": ["框架协议"],
        f"/frameworks/{fw.id}": ["此协议下的结对", "甲方"],
        "/frameworks/new": ["新建框架协议"],
    }
    for url, texts in checks.items():
        r = client.get(url)
        assert r.status_code == 200, url
        for text in texts:
            assert text in r.text, (url, text)
