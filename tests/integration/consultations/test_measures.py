"""Consultation measures on a known set of cases: volume, answers, median and 90th percentile
(nearest rank) time to first answer, share within target, share that avoided a referral,
satisfaction; per answering institution, specialty and expert; who sees which lines; bad
input; audit; the page with its charts and the CSV export (formula injection guarded)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.consultations.domain import Status
from medcircle.consultations.measures import nearest_rank
from medcircle.kit import clock, i18n
from tests import consult_factories as cf
from tests import factories
from tests.factories import login, now

API = "/api/v1/consultation-measures"


class Known:
    """The set: BJ-A answers six cases asked by BD-A within the period (five answered), BJ-B
    answers one asked by BD-A and one asked by BD-B; one BJ-A case lies outside the period."""

    def __init__(self, session: Session, w: cf.ConsultWorld) -> None:
        self.w = w
        bj2_expert = factories.user(session, w.base.beijing2, Role.EXPERT, username="bj2expert")
        w.expert2.display_name = '=HYPERLINK("http://x")'
        at = now() - timedelta(days=10)

        def case(**kw: Any) -> None:
            kw.setdefault("status", Status.ANSWERED)
            kw.setdefault("asked_at", at)
            if kw["status"] != Status.POOL:
                kw.setdefault("opinion_by_user_id", (kw.get("assignee") or w.expert).id)
            cf.consultation(session, w, **kw)

        case(first_answer_seconds=600, within_target=True, helpful=5, referral_avoided=True)
        case(first_answer_seconds=1200, within_target=True, helpful=4, referral_avoided=False)
        case(assignee=w.expert2, first_answer_seconds=7200, within_target=False, helpful=3)
        case(assignee=w.expert2, first_answer_seconds=3000, within_target=True)
        case(status=Status.POOL)
        case(specialty_code="cardiology", first_answer_seconds=1800, within_target=True)
        # outside the period
        case(asked_at=now() - timedelta(days=200), first_answer_seconds=99999, helpful=1)
        # BJ-B answers: one asked by BD-A, one by BD-B
        bj2 = w.base.beijing2.id
        case(answer_institution_id=bj2, assignee=bj2_expert, first_answer_seconds=900)
        case(
            answer_institution_id=bj2,
            asker_institution_id=w.base.baoding2.id,
            assignee=bj2_expert,
            first_answer_seconds=300,
            within_target=True,
        )
        session.commit()
        self.bj2_expert = bj2_expert


@pytest.fixture
def known(session: Session, consult_world: cf.ConsultWorld) -> Known:
    return Known(session, consult_world)


def lines(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    res = client.get(API, params=params, headers=headers)
    assert res.status_code == 200, res.text
    body: dict[str, Any] = res.json()
    return {"rows": {r["key"]: r for r in body["rows"]}, "total": body["total"], "body": body}


def test_figures_by_institution_for_the_commission(client: TestClient, known: Known) -> None:
    w = known.w
    got = lines(client, w.base.auth(Role.COMMISSION_ANALYST), group="institution")
    assert got["body"]["institution_id"] is None
    assert got["body"]["percentile_method"] == "nearest-rank"
    bj = got["rows"][str(w.answerer.id)]
    assert bj["label_zh"] == "北京甲医院"
    assert (bj["asked"], bj["answered"]) == (6, 5)
    # [600, 1200, 1800, 3000, 7200]: rank ceil(2.5) = 3 and ceil(4.5) = 5
    assert (bj["median_seconds"], bj["p90_seconds"]) == (1800, 7200)
    assert bj["within_target_share"] == 0.8
    assert (bj["referral_avoided_share"], bj["referral_avoided_known"]) == (0.5, 2)
    assert (bj["helpful_mean"], bj["rated"]) == (4.0, 3)
    bj2 = got["rows"][str(w.base.beijing2.id)]
    assert (bj2["asked"], bj2["answered"], bj2["median_seconds"]) == (2, 2, 300)
    assert got["total"]["asked"] == 8
    assert list(got["rows"]) == [str(w.answerer.id), str(w.base.beijing2.id)]


def test_figures_by_specialty_and_expert(client: TestClient, known: Known) -> None:
    w = known.w
    admin = w.base.auth(Role.PLATFORM_ADMIN)
    spec = lines(client, admin, group="specialty")["rows"]
    ped = spec[cf.SPECIALTY]
    assert (ped["asked"], ped["answered"]) == (7, 6)
    # [300, 600, 900, 1200, 3000, 7200]: ranks 3 and 6
    assert (ped["median_seconds"], ped["p90_seconds"]) == (900, 7200)
    assert spec["cardiology"]["asked"] == 1

    coord = lines(client, w.auth_user("bjcoord"), group="expert")
    assert coord["body"]["institution_id"] == w.answerer.id
    rows = coord["rows"]
    assert set(rows) == {str(w.expert.id), str(w.expert2.id), ""}
    e1, e2 = rows[str(w.expert.id)], rows[str(w.expert2.id)]
    assert (e1["asked"], e1["median_seconds"], e1["p90_seconds"]) == (3, 1200, 1800)
    assert (e2["asked"], e2["median_seconds"], e2["p90_seconds"]) == (2, 3000, 7200)
    assert e2["within_target_share"] == 0.5
    assert (rows[""]["asked"], rows[""]["answered"], rows[""]["label_en"]) == (1, 0, "Not assigned")
    # BJ-B's expert is not BJ-A's business
    assert str(known.bj2_expert.id) not in rows


def test_who_sees_which_lines(client: TestClient, known: Known) -> None:
    w = known.w
    # the asking institution sees the lines of who answers it, from its own cases only
    asker = lines(client, w.auth_user("clinician"), group="institution")
    assert asker["rows"][str(w.answerer.id)]["asked"] == 6
    assert asker["rows"][str(w.base.beijing2.id)]["asked"] == 1
    # an expert: their institution's line, and only their own line by expert
    expert = w.auth_user("expert")
    assert set(lines(client, expert, group="institution")["rows"]) == {str(w.answerer.id)}
    own = lines(client, expert, group="expert")
    assert set(own["rows"]) == {str(w.expert.id)}
    assert own["total"]["asked"] == 3
    # BD-B neither asked BJ-A nor answers anything of BD-A
    bd2 = lines(client, w.auth_user("bd2clinician"), group="institution")["rows"]
    assert set(bd2) == {str(w.base.beijing2.id)} and bd2[str(w.base.beijing2.id)]["asked"] == 1
    assert lines(client, w.auth_user("bd2clinician"), group="expert")["rows"] == {}
    # no consultation role: refused; nobody: 401
    assert client.get(API, headers=w.base.auth(Role.AUDITOR)).status_code == 403
    assert client.get(API).status_code == 401
    assert client.get(API + ".csv").status_code == 401


def test_the_period(client: TestClient, known: Known) -> None:
    w = known.w
    analyst = w.base.auth(Role.COMMISSION_ANALYST)
    default = lines(client, analyst)["body"]
    today = clock.today()
    assert (default["start"], default["end"]) == (
        (today - timedelta(days=89)).isoformat(),
        today.isoformat(),
    )
    start = (today - timedelta(days=365)).isoformat()
    year = lines(client, analyst, start=start, end=today.isoformat())
    assert year["total"]["asked"] == 9
    assert year["total"]["rated"] == 4
    early = (today - timedelta(days=30)).isoformat()
    none = lines(client, analyst, start=start, end=early)
    assert none["total"]["asked"] == 1 and none["total"]["median_seconds"] == 99999


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"start": "2026-02-01", "end": "2026-01-01"}, "bad_period"),
        ({"start": "2000-01-01", "end": "2026-01-01"}, "period_too_long"),
        ({"start": "2026-13-01"}, None),
        ({"group": "hospital"}, None),
        ({"specialty": "x" * 40}, None),
    ],
)
def test_bad_input(
    client: TestClient, known: Known, params: dict[str, str], code: str | None
) -> None:
    res = client.get(API, params=params, headers=known.w.base.auth(Role.COMMISSION_ANALYST))
    assert res.status_code == 422, res.text
    assert res.headers["content-type"].startswith("application/problem+json")
    if code:
        assert res.json()["code"] == code


def test_reads_and_exports_are_audited(client: TestClient, session: Session, known: Known) -> None:
    w = known.w
    client.get(API, params={"group": "specialty"}, headers=w.auth_user("bjcoord"))
    client.get(API + ".csv", params={"group": "expert"}, headers=w.auth_user("bjcoord"))
    session.expire_all()
    trail = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action.like("consultation.measures%"))
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.actor_username, e.detail["group"]) for e in trail] == [
        ("consultation.measures_read", "bjcoord", "specialty"),
        ("consultation.measures_export", "bjcoord", "expert"),
    ]


def test_csv_export_guards_against_formulas(client: TestClient, known: Known) -> None:
    w = known.w
    res = client.get(API + ".csv", params={"group": "expert"}, headers=w.auth_user("bjcoord"))
    assert res.status_code == 200
    assert res.headers["content-type"] == "text/csv; charset=utf-8"
    assert res.headers["content-disposition"].startswith('attachment; filename="consultation-')
    text = res.content.decode("utf-8")
    assert text.startswith("\ufeff")
    table = list(csv.DictReader(io.StringIO(text[1:])))
    by_key = {r["key"]: r for r in table}
    assert by_key[str(w.expert2.id)]["name_zh"] == '\'=HYPERLINK("http://x")'
    assert by_key[str(w.expert.id)]["median_minutes"] == "20.0"
    assert by_key[str(w.expert.id)]["within_target_percent"] == "100.0"
    assert by_key["*"]["asked"] == "6"


def test_page_tables_charts_and_csv(client: TestClient, session: Session, known: Known) -> None:
    w = known.w
    w.coordinator.locale = "zh_Hans"
    session.commit()
    login(client, "bjcoord")
    page = client.get("/consultations/measures")
    assert page.status_code == 200
    for group in ("institution", "specialty", "expert"):
        assert f'data-testid="table-{group}"' in page.text
        assert f"/consultations/measures.csv?group={group}&amp;start=" in page.text
    assert "<svg" in page.text and "<rect" in page.text
    zh = i18n.translations("zh_Hans").ugettext
    assert zh("Consultation measures") in page.text
    # 1200 s median of the primary expert, shown in minutes
    assert f'data-key="{w.expert.id}"' in page.text
    assert "20分钟" in page.text or "20 分钟" in page.text
    exported = client.get("/consultations/measures.csv?group=specialty")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert "ped_cardiology" in exported.text

    bad = client.get("/consultations/measures?start=2026-02-30&end=2026-01-01")
    assert bad.status_code == 422
    assert 'id="start-error"' in bad.text
    reversed_ = client.get("/consultations/measures?start=2026-02-01&end=2026-01-01")
    assert reversed_.status_code == 422
    assert 'id="end-error"' in reversed_.text
    assert client.get("/consultations/measures.csv?group=nope").status_code == 422


def test_page_refuses_those_without_a_consultation_role(client: TestClient, known: Known) -> None:
    login(client, "auditor")
    assert client.get("/consultations/measures").status_code == 403


def test_page_for_the_commission_in_english(
    client: TestClient, session: Session, known: Known
) -> None:
    analyst = known.w.base.users[Role.COMMISSION_ANALYST]
    analyst.locale = "en"
    session.commit()
    login(client, "commissionanalyst")
    page = client.get("/consultations/measures")
    assert page.status_code == 200
    assert "Consultation measures" in page.text
    assert "Beijing Hospital A" in page.text and "Beijing Hospital B" in page.text
    assert "By answering institution" in page.text


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=60), st.integers(1, 100))
def test_nearest_rank_is_a_member_with_the_right_rank(values: list[int], p: int) -> None:
    ordered = sorted(values)
    got = nearest_rank(ordered, p)
    assert got in ordered
    # at least p % of the values are at or below it, and fewer than p % strictly below
    assert sum(v <= got for v in ordered) * 100 >= p * len(ordered)
    assert sum(v < got for v in ordered) * 100 < p * len(ordered)


def test_nearest_rank_examples() -> None:
    assert nearest_rank([], 50) is None
    assert nearest_rank([5], 90) == 5
    assert nearest_rank([1, 2, 3, 4], 50) == 2
    assert nearest_rank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == 9
    assert nearest_rank(list(range(1, 21)), 90) == 18
