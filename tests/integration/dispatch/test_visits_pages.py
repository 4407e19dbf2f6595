"""Visit pages: the form with rows of operations and messages by the field, the details, the
list with filters, the measures with CSV."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from medcircle.auth.domain import Role
from tests import factories
from tests.integration.dispatch.visit_support import VisitWorld, frozen_fixture, vw_fixture

__all__ = ["frozen_fixture", "vw_fixture"]


def _form(vw: VisitWorld, csrf: str, **overrides: str) -> dict[str, Any]:
    data = {
        "csrf_token": csrf,
        "user_id": str(vw.expert.id),
        "site_institution_id": str(vw.w.baoding.id),
        "department_id": str(vw.neonatology.id),
        "specialty_code": "",
        "starts_on": "2026-11-16",
        "ends_on": "2026-11-17",
        "outpatients": "18",
        "ward_rounds": "2",
        "teaching_sessions": "1",
        "difficult_cases": "2",
        "roster_visit_id": "",
        "note": "",
        "op-0-icd10": "Q79.0",
        "op-0-procedure": "膈疝修补术",
        "op-0-count": "1",
        "op-1-icd10": "",
        "op-1-procedure": "",
        "op-1-count": "",
    }
    data.update(overrides)
    return data


def test_an_expert_records_a_visit_on_the_form(client: TestClient, vw: VisitWorld) -> None:
    csrf = factories.login(client, vw.expert.username)
    page = client.get("/visits/new")
    assert page.status_code == 200 and 'data-testid="visit-form"' in page.text
    # a bad ICD-10 code on the second row is named by its row; nothing is saved
    bad = _form(vw, csrf, **{"op-1-icd10": "ZZZ", "op-1-procedure": "某手术", "op-1-count": "1"})
    r = client.post("/visits/new", data=bad)
    assert r.status_code == 422
    assert "Operation 2: ZZZ is not an ICD-10 code" in r.text
    assert 'value="ZZZ"' in r.text
    r = client.post("/visits/new", data=_form(vw, csrf), follow_redirects=False)
    assert r.status_code == 303, r.text
    detail = client.get(r.headers["location"])
    assert "The visit is recorded." in detail.text and "Q79.0" in detail.text
    listing = client.get("/visits", params={"year": "2026", "specialty": "neonatology"})
    assert listing.status_code == 200 and "Q79.0" not in listing.text
    assert listing.text.count("<tr data-id=") == 1


def test_no_agreement_reads_by_the_site_field(client: TestClient, vw: VisitWorld) -> None:
    csrf = factories.login(client, vw.expert.username)
    r = client.post(
        "/visits/new",
        data=_form(vw, csrf, site_institution_id=str(vw.w.baoding2.id), department_id=""),
    )
    assert r.status_code == 422
    assert 'id="site_institution_id-error"' in r.text
    assert "does not support" in r.text


def test_more_rows_and_an_edit_with_a_stale_version(client: TestClient, vw: VisitWorld) -> None:
    csrf = factories.login(client, vw.expert.username)
    r = client.post("/visits/new", data=_form(vw, csrf, more="1"))
    assert r.status_code == 200 and 'name="op-5-icd10"' in r.text
    r = client.post("/visits/new", data=_form(vw, csrf), follow_redirects=False)
    vid = r.headers["location"].split("/")[2].split("?")[0]
    edit = client.get(f"/visits/{vid}/edit")
    assert edit.status_code == 200 and 'name="version" value="1"' in edit.text
    changed = _form(vw, csrf, outpatients="20", version="1")
    r = client.post(f"/visits/{vid}/edit", data=changed, follow_redirects=False)
    assert r.status_code == 303
    r = client.post(f"/visits/{vid}/edit", data=changed)
    assert r.status_code == 409 and "Someone else changed this record" in r.text


def test_pages_in_chinese_and_the_measures(client: TestClient, vw: VisitWorld) -> None:
    csrf = factories.login(client, vw.expert.username)
    client.post("/visits/new", data=_form(vw, csrf), follow_redirects=False)
    client.post("/logout", data={"csrf_token": csrf})
    analyst = factories.user(
        vw.session, vw.w.beijing, Role.COMMISSION_ANALYST, username="zh.analyst", locale="zh_Hans"
    )
    vw.session.commit()
    factories.login(client, analyst.username)
    page = client.get("/visits/measures", params={"year": "2026"})
    assert page.status_code == 200
    assert "出诊人次" in page.text and 'data-testid="visit-measures-home"' in page.text
    row = page.text.split(f'data-key="{vw.w.beijing.id}"')[1].split("</tr>")[0]
    assert 'data-col="out_calls">1<' in row and 'data-col="person_visits">2<' in row
    csv = client.get("/visits/measures.csv", params={"group": "specialty", "year": "2026"})
    assert csv.status_code == 200 and "neonatology" in csv.text
    bad = client.get("/visits/measures", params={"year": "20x6"})
    assert bad.status_code == 422
    listing = client.get("/visits")
    assert listing.status_code == 200 and "出诊记录" in listing.text
