"""medcircle activity: import encounter records from a hospital's own systems."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from medcircle.activity import service
from medcircle.activity.schemas import ImportRead, RowErrorRead
from medcircle.cli.user import OPERATOR
from medcircle.config import get_settings
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.kit.errors import DomainError
from medcircle.kit.i18n import set_locale

app = typer.Typer(help="Hospital activity (encounter records).", no_args_is_help=True)
console = Console(width=None if sys.stdout.isatty() else 120)

# the row errors printed; --report writes them all
SHOWN_ERRORS = 20


@app.command("import")
def import_(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    institution: str = typer.Option(None, help="only rows of this institution (code) are accepted"),
    quarantine: bool = typer.Option(
        False, help="import the good rows and set the bad ones aside (default: all or nothing)"
    ),
    encoding: str = typer.Option(None, help="the CSV's encoding when it is not detected, e.g. gbk"),
    report: Path = typer.Option(None, help="write every row error to this CSV file"),
) -> None:
    """Import a CSV, XLSX or Parquet file of encounter records; refused whole on any bad row
    unless --quarantine. Importing the same records again changes nothing."""
    settings = get_settings()
    set_locale(settings.default_locale)
    engine = make_engine(settings.database_url)
    mode = service.ImportMode.QUARANTINE if quarantine else service.ImportMode.ALL_OR_NOTHING
    try:
        with (
            unit_of_work(make_session_factory(engine, writes=True)) as session,
            Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TextColumn("{task.completed:,} rows"),
                TimeElapsedColumn(),
                console=console,
                transient=False,
            ) as progress,
        ):
            task = progress.add_task(f"Reading {file.name}", total=None)
            found = service.import_file(
                session,
                OPERATOR,
                file,
                mode=mode,
                encoding=encoding,
                institution=institution,
                max_bytes=settings.activity_max_bytes,
                on_rows=lambda n: progress.update(task, completed=n),
            )
            progress.update(task, description="Committing")
            # read before the session closes
            done = ImportRead.model_validate(found)
    except DomainError as exc:
        console.print(f"[red]{exc.text()}[/red]")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    seconds = max((done.finished_at - done.started_at).total_seconds(), 1e-9)
    if report is not None:
        with report.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["line", "column", "code", "message"])
            for e in done.report:
                writer.writerow([e.line, e.column or "", e.code, e.message])
    if done.failure is not None:
        f = done.failure
        where = f" (line {f.line})" if f.line else ""
        console.print(f"[red]Not imported{where}:[/red] {f.message}")
        raise typer.Exit(1)
    if done.status == service.ImportStatus.REFUSED:
        console.print(
            f"[red]Not imported:[/red] {done.errors_total:,} errors in {done.rows_read:,} rows "
            "(nothing was written; fix the rows, or import the good ones with --quarantine)."
        )
        _print_errors(done.report, done.errors_total)
        raise typer.Exit(1)
    console.print(
        f"[green]Imported[/green] import #{done.id}: {done.rows_read:,} rows read in "
        f"{seconds:.1f} s ({done.rows_read / seconds:,.0f} a second): "
        f"{done.rows_inserted:,} new, {done.rows_updated:,} corrected, "
        f"{done.rows_unchanged:,} unchanged, {done.rows_quarantined:,} set aside."
    )
    if done.rows_quarantined:
        _print_errors(done.report, done.errors_total)


def _print_errors(report: list[RowErrorRead], total: int) -> None:
    table = Table("line", "column", "code", "reason")
    for e in report[:SHOWN_ERRORS]:
        table.add_row(str(e.line), e.column or "", e.code, e.message)
    console.print(table)
    if total > SHOWN_ERRORS:
        console.print(f"… and {total - SHOWN_ERRORS:,} more (--report FILE writes them all).")
