"""The activity pages of a hospital office: upload a file of encounter records, see what each
import did, and read a refused file's report line by line."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Annotated

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from medcircle.activity import service
from medcircle.activity.domain import COLUMNS
from medcircle.audit.service import safe_cells
from medcircle.auth.domain import Actor, Permission
from medcircle.demo import activity as demo_activity
from medcircle.demo.service import current_world
from medcircle.kit import clock
from medcircle.kit.errors import Forbidden, NotFound
from medcircle.kit.i18n import N_, gettext
from medcircle.registry.models import Institution
from medcircle.web.deps import DB, PageActor, demo_flag, settings_of
from medcircle.web.forms import Errors
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()

# the encodings offered when a CSV's is not detected
ENCODINGS = ("utf-8", "gb18030", "big5")

# what each error code of an import's report means, in the reader's language (the report's
# own messages, naming the values, are in English, as the API gives them)
REASONS = {
    "required": N_("A value is required."),
    "too_long": N_("The value is too long."),
    "unknown_institution": N_("Not an institution you may import for."),
    "unknown_division": N_("Not a known division code."),
    "bad_date": N_("Not a date (YYYY-MM-DD)."),
    "future_date": N_("The date is in the future."),
    "end_before_start": N_("The discharge is before the admission."),
    "end_on_outpatient": N_("A visit has no discharge day."),
    "bad_type": N_("Not outpatient, emergency or inpatient."),
    "bad_age_band": N_("Not one of the age bands."),
    "bad_icd10": N_("Not an ICD-10 code."),
    "bad_cost": N_("Not a cost in yuan (at most two decimals, not negative)."),
    "duplicate_record": N_("The same record appears twice in the file."),
    "looks_like_id_number": N_("Looks like a national ID number: activity data carries none."),
    "missing_column": N_("A required column is missing."),
    "unknown_column": N_("Not a column of activity data."),
    "duplicate_column": N_("The column appears twice."),
    "file_too_large": N_("The file is too large."),
    "empty_file": N_("The file is empty."),
    "kind_mismatch": N_("The file is not what its name says."),
    "unknown_kind": N_("Not a CSV, Excel or Parquet file."),
    "unknown_encoding": N_("The encoding could not be detected: choose it and import again."),
    "not_utf8_or_gbk": N_("The encoding could not be detected: choose it and import again."),
    "encoding_mismatch": N_("Part of the file is not in the encoding of the rest."),
    "bad_csv": N_("Not a well-formed CSV file."),
    "bad_workbook": N_("Not a readable Excel workbook."),
    "bad_parquet": N_("Not a readable Parquet file."),
}


def reason(code: str) -> str:
    """The meaning of an error code, translated (the code itself if it is new)."""
    message = REASONS.get(code)
    return gettext(message) if message else code


def _demo_month(request: Request, session: DB, actor: Actor) -> demo_activity.ActivityFile | None:
    """In the demo, the month of activity the office may import itself (None elsewhere)."""
    if not actor.can(Permission.ACTIVITY_IMPORT) or not demo_flag(request, session):
        return None
    inst = session.get(Institution, actor.institution_id)
    return demo_activity.office_month(inst.code) if inst is not None else None


def _list(
    request: Request, session: DB, actor: PageActor, errors: Errors, status_code: int = 200
) -> Response:
    return render(
        request,
        "activity/imports.html",
        {
            "imports": service.list_imports(session, actor),
            "errors": errors,
            "encodings": ENCODINGS,
            "max_upload_mb": settings_of(request).max_upload_bytes / (1024 * 1024),
            "demo_month": _demo_month(request, session, actor),
        },
        status_code=status_code,
    )


@router.get("/activity/imports")
def imports_page(request: Request, session: DB, actor: PageActor) -> Response:
    return _list(request, session, actor, Errors())


@router.post("/activity/imports")
def upload_page(
    request: Request,
    session: DB,
    actor: PageActor,
    file: Annotated[UploadFile | None, File()] = None,
    quarantine: Annotated[bool, Form()] = False,
    encoding: Annotated[str, Form()] = "",
) -> Response:
    errors = Errors()
    if file is None or not file.filename:
        errors.add("file", N_("Choose a file to import."))
        return _list(request, session, actor, errors, status_code=422)
    if encoding and encoding not in ENCODINGS:
        encoding = ""
    done = service.import_upload(
        session,
        actor,
        file.file,
        file.filename,
        mode=service.ImportMode.QUARANTINE if quarantine else service.ImportMode.ALL_OR_NOTHING,
        encoding=encoding or None,
        max_bytes=settings_of(request).max_upload_bytes,
    )
    return RedirectResponse(f"/activity/imports/{done.id}", status_code=303)


@router.get("/activity/imports/example.csv")
def example_file(request: Request, session: DB, actor: PageActor) -> Response:
    """A small file in the expected shape, with the office's own institution and division:
    a start for an export from the hospital's system (or for trying the import)."""
    if not actor.can(Permission.ACTIVITY_IMPORT):
        raise Forbidden()
    inst = session.get(Institution, actor.institution_id)
    code, place = (inst.code, inst.division_code) if inst else ("CODE", "130606")
    day = clock.today() - timedelta(days=1)
    rows = [
        ("EX-OP-1", code, "儿科门诊", "outpatient", day, "", place, "1-4", "J06.9", "86.50", ""),
        ("EX-ER-1", code, "急诊科", "emergency", day, "", place, "15-44", "S52.5", "412.00", ""),
        (
            "EX-IP-1",
            code,
            "儿科病房",
            "inpatient",
            day - timedelta(days=6),
            day,
            place,
            "5-14",
            "J18.9",
            "5230.00",
            "",
        ),
    ]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(safe_cells(*r) for r in rows)
    return Response(
        content=buf.getvalue().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="activity-example.csv"'},
    )


@router.get("/activity/imports/demo-month.csv")
def demo_month_file(request: Request, session: DB, actor: PageActor) -> Response:
    """In the demo: a month of the office's own hospital's activity that the demo did not
    load, to import and watch the indicators move."""
    if not actor.can(Permission.ACTIVITY_IMPORT):
        raise Forbidden()
    month = _demo_month(request, session, actor)
    world = current_world(session)
    if month is None or world is None:
        raise NotFound(N_("There is no demo month of activity here."), code="no_demo_month")
    buf = io.StringIO()
    demo_activity.write_csv(world.seed, month, buf)
    return Response(
        content=buf.getvalue().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{month.name}"'},
    )


@router.get("/activity/imports/{import_id:int}")
def import_page(request: Request, session: DB, actor: PageActor, import_id: int) -> Response:
    found = service.get_import(session, actor, import_id)
    aside = service.quarantined(session, actor, import_id) if found.rows_quarantined else []
    return render(request, "activity/import.html", {"i": found, "aside": aside, "reason": reason})
