"""The activity API: a hospital office uploads a file and reads its import; a file with bad rows
answers problem+json naming each line, column and reason, and its report stays readable."""

from __future__ import annotations

from fastapi.testclient import TestClient

from medcircle.auth.domain import Role
from tests.factories import World
from tests.integration.activity.test_service import GOOD, HEADER


def upload(
    client: TestClient,
    world: World,
    lines: list[str],
    role: Role = Role.INSTITUTION_ADMIN,
    **form: str,
):  # type: ignore[no-untyped-def]
    body = ("\n".join([HEADER, *lines]) + "\n").encode()
    return client.post(
        "/api/v1/activity/imports",
        headers=world.auth(role),
        files={"file": ("activity.csv", body, "text/csv")},
        data=form,
    )


def test_an_office_uploads_a_file_and_reads_its_import(client: TestClient, world: World) -> None:
    r = upload(client, world, GOOD)
    assert r.status_code == 201, r.text
    done = r.json()
    assert (done["status"], done["rows_inserted"], done["file_name"]) == (
        "imported",
        3,
        "activity.csv",
    )
    again = client.get(
        f"/api/v1/activity/imports/{done['id']}", headers=world.auth(Role.INSTITUTION_ADMIN)
    )
    assert again.status_code == 200 and again.json()["rows_read"] == 3
    listed = client.get("/api/v1/activity/imports", headers=world.auth(Role.INSTITUTION_ADMIN))
    assert [i["id"] for i in listed.json()] == [done["id"]]


def test_bad_rows_answer_a_problem_naming_each_line_and_the_report_stays(
    client: TestClient, world: World
) -> None:
    bad = [*GOOD, "OP-2,BD-A,儿科门诊,outpatient,2026-11-02,,130606,1-4,NOT-A-CODE,10,"]
    r = upload(client, world, bad)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "import_refused"
    assert [(e["line"], e["field"], e["code"]) for e in problem["errors"]] == [
        (5, "icd10", "bad_icd10")
    ]
    kept = client.get(
        f"/api/v1/activity/imports/{problem['import_id']}",
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    assert kept.status_code == 200
    assert (kept.json()["status"], kept.json()["rows_inserted"]) == ("refused", 0)

    # asked to, the good rows go in and the bad one is set aside
    r = upload(client, world, bad, mode="quarantine")
    assert r.status_code == 201 and r.json()["rows_quarantined"] == 1
    aside = client.get(
        f"/api/v1/activity/imports/{r.json()['id']}/quarantine",
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    assert [q["line"] for q in aside.json()] == [5]


def test_others_may_not_import(client: TestClient, world: World) -> None:
    r = upload(client, world, GOOD, role=Role.CLINICIAN)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
