"""Importing activity files: a good file written, the same file again changing nothing, a
corrected row updated, a file with bad rows refused whole with its report kept, good rows kept
and bad ones set aside on request, another institution's rows refused to a hospital office,
GBK files read without garbling, a file that is not what its name says refused; every import
audited."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.activity import service
from medcircle.activity.models import ActivityImport, ActivityQuarantine, ActivityRecord
from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Actor, Role
from medcircle.kit.errors import Forbidden, NotFound
from tests.factories import World

TODAY = date(2026, 11, 30)
HEADER = (
    "record_id,institution,department,type,start_on,end_on,residence,age_band,icd10,cost,referral"
)
GOOD = [
    "OP-1,BD-A,儿科门诊,outpatient,2026-11-02,,130606,1-4,J18.9,128.50,",
    "IP-1,BD-A,儿科病房,inpatient,2026-11-03,2026-11-10,130602,5-14,J45.0,5230,R-2026-000001",
    "IP-2,BD-A,新生儿科,inpatient,2026-11-20,,130606,<1,P07.3,,",
]


def actor_of(world: World, role: Role) -> Actor:
    u = world.users[role]
    return Actor(
        user_id=u.id, username=u.username, institution_id=u.institution_id, roles=frozenset({role})
    )


def write(
    tmp_path: Path, lines: list[str], name: str = "activity.csv", encoding: str = "utf-8"
) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding=encoding)
    return path


def run(session: Session, world: World, path: Path, **kw: object) -> ActivityImport:
    return service.import_file(
        session,
        actor_of(world, Role.INSTITUTION_ADMIN),
        path,
        today=TODAY,
        **kw,  # type: ignore[arg-type]
    )


def records(session: Session) -> dict[str, ActivityRecord]:
    return {r.record_id: r for r in session.scalars(select(ActivityRecord))}


def test_a_good_file_is_imported_and_the_same_file_again_changes_nothing(
    session: Session, world: World, tmp_path: Path
) -> None:
    path = write(tmp_path, GOOD)
    first = run(session, world, path)
    assert (first.status, first.kind, first.encoding) == ("imported", "csv", "utf-8")
    assert (first.rows_read, first.rows_inserted, first.rows_unchanged) == (3, 3, 0)
    assert first.institution_id == world.baoding.id and first.report == []
    stored = records(session)
    assert stored["OP-1"].institution_id == world.baoding.id
    assert (stored["OP-1"].department, stored["OP-1"].cost_fen) == ("儿科门诊", 12850)
    assert (stored["IP-1"].end_on, stored["IP-1"].referral) == (date(2026, 11, 10), "R-2026-000001")
    assert stored["IP-2"].end_on is None and stored["IP-2"].cost_fen is None

    again = run(session, world, path)
    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, 3)
    assert session.scalar(select(func.count()).select_from(ActivityRecord)) == 3

    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "activity.import")).all()
    assert [e.detail["inserted"] for e in events] == [3, 0]
    assert {e.outcome for e in events} == {"success"}


def test_a_corrected_row_updates_its_record(session: Session, world: World, tmp_path: Path) -> None:
    run(session, world, write(tmp_path, GOOD))
    corrected = [GOOD[0].replace("128.50", "130.00"), *GOOD[1:]]
    done = run(session, world, write(tmp_path, corrected, "corrected.csv"))
    assert (done.rows_inserted, done.rows_updated, done.rows_unchanged) == (0, 1, 2)
    assert records(session)["OP-1"].cost_fen == 13000
    assert records(session)["OP-1"].import_id == done.id


def test_a_file_with_bad_rows_is_refused_whole_with_a_report(
    session: Session, world: World, tmp_path: Path
) -> None:
    bad = [
        *GOOD,
        "OP-2,BD-A,儿科门诊,outpatient,2027-01-01,,130606,1-4,J18.9,10,",  # line 5: future
        "IP-3,BD-A,儿科病房,inpatient,2026-11-10,2026-11-01,999999,5-14,X99.99,10,",  # line 6
        "OP-1,BD-A,儿科门诊,outpatient,2026-11-02,,130606,1-4,J18.9,1,",  # line 7: twice
    ]
    done = run(session, world, write(tmp_path, bad))
    assert done.status == "refused" and done.rows_read == 6
    assert (
        done.rows_inserted == 0
        and session.scalar(select(func.count()).select_from(ActivityRecord)) == 0
    )
    found = {(e["line"], e["column"], e["code"]) for e in done.report}
    assert (5, "start_on", "future_date") in found
    assert (6, "residence", "unknown_division") in found
    assert (6, "icd10", "bad_icd10") in found
    assert (6, "end_on", "end_before_start") in found
    assert any(line == 7 and code == "duplicate_record" for line, _, code in found)
    assert done.errors_total == len(done.report) >= 5
    assert all(e["message"] for e in done.report)
    # the refused import is kept with its report, and audited as a failure
    assert session.get(ActivityImport, done.id) is not None
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "activity.import")).one()
    assert event.outcome == "failure" and event.detail["errors"] == done.errors_total


def test_quarantine_keeps_the_good_rows_and_sets_the_bad_ones_aside(
    session: Session, world: World, tmp_path: Path
) -> None:
    lines = [*GOOD, "OP-9,BD-A,儿科门诊,visit,2026-11-02,,130606,1-4,J18.9,10,"]
    done = run(session, world, write(tmp_path, lines), mode=service.ImportMode.QUARANTINE)
    assert done.status == "imported"
    assert (done.rows_read, done.rows_inserted, done.rows_quarantined) == (4, 3, 1)
    assert set(records(session)) == {"OP-1", "IP-1", "IP-2"}
    aside = session.scalars(select(ActivityQuarantine)).one()
    assert aside.line == 5 and aside.values["record_id"] == "OP-9"
    assert [e["code"] for e in aside.errors] == ["bad_type"]
    actor = actor_of(world, Role.INSTITUTION_ADMIN)
    assert [q.line for q in service.quarantined(session, actor, done.id)] == [5]


def test_an_office_imports_only_its_own_institutions_rows(
    session: Session, world: World, tmp_path: Path
) -> None:
    other = "OP-5,BD-B,儿科门诊,outpatient,2026-11-02,,130606,1-4,J18.9,10,"
    done = run(session, world, write(tmp_path, [*GOOD, other]))
    assert done.status == "refused"
    assert [(e["line"], e["column"], e["code"]) for e in done.report] == [
        (5, "institution", "unknown_institution")
    ]
    # the platform administrator may import for any institution, or narrow to one
    admin = actor_of(world, Role.PLATFORM_ADMIN)
    both = service.import_file(session, admin, write(tmp_path, [*GOOD, other]), today=TODAY)
    assert both.rows_inserted == 4
    with pytest.raises(NotFound):
        service.import_file(session, admin, write(tmp_path, GOOD), institution="NOPE", today=TODAY)
    # and those without the permission may not import, nor see an import
    with pytest.raises(Forbidden):
        service.import_file(session, actor_of(world, Role.CLINICIAN), write(tmp_path, GOOD))
    with pytest.raises(NotFound):
        service.get_import(session, actor_of(world, Role.CLINICIAN), both.id)


def test_a_gbk_file_is_read_without_garbling(
    session: Session, world: World, tmp_path: Path
) -> None:
    done = run(session, world, write(tmp_path, GOOD, encoding="gbk"))
    assert (done.status, done.encoding) == ("imported", "gb18030")
    assert records(session)["IP-2"].department == "新生儿科"


def test_a_file_that_is_not_what_its_name_says_is_refused(
    session: Session, world: World, tmp_path: Path
) -> None:
    path = tmp_path / "activity.csv"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    done = run(session, world, path)
    assert done.status == "refused" and done.failure is not None
    assert done.failure["code"] == "kind_mismatch"
    assert done.rows_read == 0


def test_a_header_missing_a_column_is_reported_on_line_1(
    session: Session, world: World, tmp_path: Path
) -> None:
    path = tmp_path / "activity.csv"
    path.write_text(HEADER.replace("icd10,", "") + "\n", encoding="utf-8")
    done = run(session, world, path)
    assert done.status == "refused"
    assert (1, "icd10", "missing_column") in {
        (e["line"], e["column"], e["code"]) for e in done.report
    }


def test_a_file_over_the_limit_is_refused_unread(
    session: Session, world: World, tmp_path: Path
) -> None:
    done = run(session, world, write(tmp_path, GOOD), max_bytes=100)
    assert done.status == "refused" and done.failure is not None
    assert done.failure["code"] == "file_too_large" and done.sha256 == ""
    assert session.scalar(select(func.count()).select_from(ActivityRecord)) == 0
