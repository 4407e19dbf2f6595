"""Teaching cases: the expert who answered or a coordinator turns an answered or closed case into
an anonymised copy, once; names, numbers and dates are gone and the age is a band; the library
is open to every consultation reader across institutions; the pages; audit."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth import service as auth_service
from medcircle.auth.domain import Role
from medcircle.auth.models import User
from medcircle.config import Settings
from medcircle.consultations import teaching
from medcircle.consultations.domain import Status
from medcircle.consultations.models import Consultation, TeachingCase
from medcircle.kit import i18n
from medcircle.kit.errors import Conflict
from tests import consult_factories as cf
from tests.factories import csrf_of, login
from tests.referral_factories import CHILD_ID

QUESTION = (
    "患儿王小明，2015-05-12出生，住院号HX20231，母亲李秀英（电话13800138000）。"
    "小明是否需要手术？身份证" + CHILD_ID
)
SUMMARY = "2023年4月1日超声：7 mm 膜周部室间隔缺损。联系 xiuying.li@example.cn，座机0312-5551234。"
ASSESSMENT = "王小明的缺损有血流动力学意义。"
RECOMMENDATIONS = "建议2026/03/01前行手术，MRN 778812 随访。"


@pytest.fixture
def named(session: Session, consult_world: cf.ConsultWorld) -> cf.ConsultWorld:
    w = consult_world
    w.patient.name = "王小明"
    w.patient.guardian_name = "李秀英"
    session.commit()
    return w


def answered(session: Session, w: cf.ConsultWorld, **kw: Any) -> Consultation:
    values: dict[str, Any] = {
        "status": Status.ANSWERED,
        "question": QUESTION,
        "clinical_summary": SUMMARY,
        "assessment": ASSESSMENT,
        "recommendations": RECOMMENDATIONS,
        "opinion_by_user_id": w.expert.id,
    }
    values.update(kw)
    c = cf.consultation(session, w, **values)
    session.commit()
    return c


def actor(session: Session, username: str):  # type: ignore[no-untyped-def]
    u = session.scalar(select(User).where(User.username == username))
    assert u is not None
    return auth_service.actor_for(session, u)


def mark(client: TestClient, headers: dict[str, str], cid: int) -> Any:
    return client.post(f"/api/v1/consultations/{cid}/teaching-case", headers=headers)


def test_the_answering_expert_makes_an_anonymised_copy(
    client: TestClient, session: Session, named: cf.ConsultWorld
) -> None:
    c = answered(session, named)
    res = mark(client, named.auth_user("expert"), c.id)
    assert res.status_code == 201, res.text
    body = res.json()
    assert body["specialty_code"] == cf.SPECIALTY
    assert body["icd10_code"] == "Q21.0"
    assert body["diagnosis"] == "Ventricular septal defect"
    # born 2015-05-12, asked now (2026 or later): a band, never the birth date
    assert body["age_band"] in {"6–11", "12–17"}
    assert body["sex"] == "male"
    text = " ".join(body[k] for k in ("question", "summary", "assessment", "recommendations"))
    for secret in (
        "王小明",
        "小明",
        "李秀英",
        "秀英",
        CHILD_ID,
        "13800138000",
        "0312-5551234",
        "xiuying.li@example.cn",
        "2015-05-12",
        "2023年4月1日",
        "2026/03/01",
        "HX20231",
        "778812",
    ):
        assert secret not in text, secret
    assert "[姓名]" in body["question"]
    assert "膜周部室间隔缺损" in body["summary"]
    assert body["assessment"] == "[姓名]的缺损有血流动力学意义。"
    session.expire_all()
    row = session.scalar(select(TeachingCase).where(TeachingCase.consultation_id == c.id))
    assert row is not None and row.created_by_user_id == named.expert.id
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "consultation.teaching_case_add")
    ).all()
    assert [(e.actor_username, e.object_id) for e in events] == [("expert", str(row.id))]


def test_once_per_case(client: TestClient, session: Session, named: cf.ConsultWorld) -> None:
    c = answered(session, named, status=Status.CLOSED)
    assert mark(client, named.auth_user("bjcoord"), c.id).status_code == 201
    again = mark(client, named.auth_user("expert"), c.id)
    assert again.status_code == 409
    assert again.json()["code"] == "already_teaching"
    assert session.scalar(select(func.count()).select_from(TeachingCase)) == 1


def test_two_at_once_one_wins(
    session: Session, named: cf.ConsultWorld, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both passed the check before either wrote: the unique row decides."""
    c = answered(session, named)
    teaching.mark(session, actor(session, "expert"), c.id, settings)
    monkeypatch.setattr(teaching, "of_consultation", lambda *_: None)
    with pytest.raises(Conflict) as exc:
        teaching.mark(session, actor(session, "bjcoord"), c.id, settings)
    assert exc.value.code == "already_teaching"
    session.commit()
    assert session.scalar(select(func.count()).select_from(TeachingCase)) == 1


def test_who_may_mark_and_when(
    client: TestClient, session: Session, named: cf.ConsultWorld
) -> None:
    w = named
    c = answered(session, w)
    for username in ("expert3", "clinician", "bjclinician"):
        res = mark(client, w.auth_user(username), c.id)
        assert res.status_code == 403, username
        assert res.json()["code"] == "not_teaching_author"
    assert mark(client, w.auth_user("bd2clinician"), c.id).status_code == 404
    assert mark(client, {}, c.id).status_code == 401
    for status in (Status.ASSIGNED, Status.AWAITING_ASKER, Status.CANCELLED):
        open_case = answered(session, w, status=status)
        res = mark(client, w.auth_user("expert"), open_case.id)
        assert res.status_code == 409
        assert res.json()["code"] == "not_answered"
    # the expert who holds an answered case (opinion by someone else) may
    held = answered(session, w, assignee=w.expert2, opinion_by_user_id=w.expert.id)
    assert mark(client, w.auth_user("expert2"), held.id).status_code == 201
    assert session.scalar(select(func.count()).select_from(TeachingCase)) == 1


def test_the_library_is_open_to_readers_everywhere(
    client: TestClient, session: Session, named: cf.ConsultWorld
) -> None:
    w = named
    first = mark(client, w.auth_user("expert"), answered(session, w).id).json()
    second = mark(
        client,
        w.auth_user("expert"),
        answered(session, w, icd10_code="Q25.0", diagnosis="Patent ductus arteriosus").id,
    ).json()
    # BD-B's clinician neither asked nor answered: the anonymised library is theirs to read
    reader = w.auth_user("bd2clinician")
    listed = client.get("/api/v1/teaching-cases", headers=reader)
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()["items"]] == [second["id"], first["id"]]
    assert listed.json()["total"] == 2
    q21 = client.get("/api/v1/teaching-cases?icd10=q21", headers=reader).json()
    assert [t["id"] for t in q21["items"]] == [first["id"]]
    assert (
        client.get("/api/v1/teaching-cases?specialty=cardiology", headers=reader).json()["total"]
        == 0
    )
    assert (
        client.get(f"/api/v1/teaching-cases?specialty={cf.SPECIALTY}", headers=reader).json()[
            "total"
        ]
        == 2
    )
    one = client.get(f"/api/v1/teaching-cases/{first['id']}", headers=reader)
    assert one.status_code == 200
    assert "consultation_id" not in one.json()
    assert client.get("/api/v1/teaching-cases/99999", headers=reader).status_code == 404

    bad = client.get("/api/v1/teaching-cases?icd10=%25%27", headers=reader)
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_icd10"
    assert (
        client.get("/api/v1/teaching-cases", headers=w.base.auth(Role.AUDITOR)).status_code == 403
    )
    assert client.get("/api/v1/teaching-cases").status_code == 401
    session.expire_all()
    reads = session.scalars(select(AuditEvent).where(AuditEvent.action == "teaching_case.read"))
    assert [e.actor_username for e in reads] == ["bd2clinician"]


def test_pages(client: TestClient, session: Session, named: cf.ConsultWorld) -> None:
    w = named
    c = answered(session, w)
    w.expert.locale = "zh_Hans"
    session.commit()
    csrf = login(client, "expert")
    res = client.post(
        f"/consultations/{c.id}/teaching-case",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert res.status_code == 303, res.text
    row = session.scalar(select(TeachingCase).where(TeachingCase.consultation_id == c.id))
    assert row is not None
    assert res.headers["location"] == f"/teaching-cases/{row.id}?made=1"
    page = client.get(res.headers["location"])
    assert page.status_code == 200
    zh = i18n.translations("zh_Hans").ugettext
    assert zh("Teaching case") in page.text
    assert zh("The teaching case is made: names, numbers and dates are removed.") in page.text
    assert "王小明" not in page.text and CHILD_ID not in page.text
    # the second press leads to the copy already made
    again = client.post(
        f"/consultations/{c.id}/teaching-case",
        data={"csrf_token": csrf_of(page.text) if "csrf_token" in page.text else csrf},
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert again.headers["location"] == f"/teaching-cases/{row.id}"

    library = client.get("/teaching-cases?icd10=Q21")
    assert library.status_code == 200
    assert f'data-teaching-case="{row.id}"' in library.text
    bad = client.get("/teaching-cases?icd10=%3Cscript%3E")
    assert bad.status_code == 422
    assert 'id="icd10-error"' in bad.text
    assert "<script>" not in bad.text


def test_pages_refuse_others(client: TestClient, session: Session, named: cf.ConsultWorld) -> None:
    c = answered(session, named)
    csrf = login(client, "expert3")
    res = client.post(
        f"/consultations/{c.id}/teaching-case", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert res.status_code == 403
    assert session.scalar(select(func.count()).select_from(TeachingCase)) == 0
