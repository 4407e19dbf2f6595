"""The activity pages: an office imports a file and reads what came of it; a refused file's
report names each line and column with the reason in the reader's language."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medcircle.activity.domain import COLUMNS
from medcircle.demo import facts
from medcircle.demo.models import DemoWorld
from medcircle.registry.models import Institution
from tests.factories import World, login
from tests.integration.activity.test_service import GOOD, HEADER


def _office(client: TestClient) -> str:
    """Logged in as the Baoding hospital office, reading Chinese."""
    token = login(client, "institutionadmin")
    client.post("/locale", data={"csrf_token": token, "locale": "zh_Hans", "next": "/"})
    return token


def _post(client: TestClient, token: str, lines: list[str], **form: str):  # type: ignore[no-untyped-def]
    body = ("\n".join([HEADER, *lines]) + "\n").encode("gbk")
    return client.post(
        "/activity/imports",
        data={"csrf_token": token, **form},
        files={"file": ("门诊.csv", body, "text/csv")},
        follow_redirects=True,
    )


def test_an_office_imports_a_gbk_file_and_sees_the_counts(client: TestClient, world: World) -> None:
    token = _office(client)
    page = client.get("/activity/imports")
    assert page.status_code == 200 and 'data-testid="import-form"' in page.text
    assert 'data-testid="nav-activity"' in page.text
    r = _post(client, token, GOOD)
    assert r.status_code == 200
    assert "门诊.csv" in r.text and "gb18030" in r.text
    assert "已导入：读取 3 行，新增 3 行" in r.text
    listed = client.get("/activity/imports")
    assert "门诊.csv" in listed.text and "已导入" in listed.text


def test_a_refused_file_shows_each_line_and_reason(client: TestClient, world: World) -> None:
    token = _office(client)
    bad = [*GOOD, "OP-2,BD-A,儿科门诊,outpatient,2026-11-02,,130606,1-4,NOT-A-CODE,10,"]
    r = _post(client, token, bad)
    assert "未导入：4 行中有 1 处错误" in r.text
    assert 'data-code="bad_icd10"' in r.text and "不是 ICD-10 编码。" in r.text
    # in English for an English reader
    client.post("/locale", data={"csrf_token": token, "locale": "en", "next": "/"})
    again = client.get(str(r.url))
    assert "Not an ICD-10 code." in again.text

    # set aside on request: the good rows in, the bad one listed
    r = _post(client, token, bad, quarantine="true")
    assert "1 set aside" in r.text and 'data-testid="aside"' in r.text


def test_no_file_is_asked_for_by_the_field(client: TestClient, world: World) -> None:
    token = _office(client)
    r = client.post("/activity/imports", data={"csrf_token": token})
    assert r.status_code == 422 and "请选择要导入的文件。" in r.text


def test_the_page_is_for_offices_only(client: TestClient, world: World) -> None:
    login(client, "clinician")
    assert client.get("/activity/imports").status_code == 403


def test_the_example_file_is_the_offices_own_and_imports_as_it_is(
    client: TestClient, world: World
) -> None:
    token = _office(client)
    assert 'data-testid="example-file"' in client.get("/activity/imports").text
    example = client.get("/activity/imports/example.csv")
    assert example.status_code == 200
    assert example.headers["content-disposition"] == 'attachment; filename="activity-example.csv"'
    lines = example.text.splitlines()
    assert lines[0].split(",")[:3] == ["record_id", "institution", "department"]
    assert all(",BD-A," in line and ",130606," in line for line in lines[1:])
    r = client.post(
        "/activity/imports",
        data={"csrf_token": token},
        files={"file": ("example.csv", example.content, "text/csv")},
        follow_redirects=True,
    )
    assert "已导入：读取 3 行，新增 3 行" in r.text


def test_the_example_file_is_for_offices(client: TestClient, world: World) -> None:
    login(client, "clinician")
    assert client.get("/activity/imports/example.csv").status_code == 403


def test_in_the_demo_an_office_downloads_a_month_it_can_import(
    client: TestClient, session: Session, world: World
) -> None:
    token = _office(client)
    # not a demo deployment: no month offered
    assert 'data-testid="demo-month"' not in client.get("/activity/imports").text
    assert client.get("/activity/imports/demo-month.csv").status_code == 404
    session.add(DemoWorld(seed=2017, generator_version="test", loaded_at=datetime.now(UTC)))
    office = session.get(Institution, world.baoding.id)
    assert office is not None
    office.code = facts.BAODING_CHILDRENS
    session.commit()
    client.app.state.demo_flag = None  # type: ignore[attr-defined]
    page = client.get("/activity/imports")
    assert 'data-testid="demo-month"' in page.text and "BDCH-activity-2018-01.csv" in page.text
    got = client.get("/activity/imports/demo-month.csv")
    assert got.status_code == 200
    assert got.headers["content-disposition"] == 'attachment; filename="BDCH-activity-2018-01.csv"'
    lines = got.text.splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) > 31 * facts.BDCH_OUTPATIENTS_NOW[0]
    r = client.post(
        "/activity/imports",
        data={"csrf_token": token},
        files={"file": ("BDCH-activity-2018-01.csv", got.content, "text/csv")},
        follow_redirects=True,
    )
    assert r.status_code == 200 and f"新增 {len(lines) - 1} 行" in r.text
