"""medcircle demo: the Beijing–Baoding demo world."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import OperationalError, ProgrammingError

from medcircle.auth.domain import ROLE_LABELS, Role
from medcircle.cli.user import OPERATOR
from medcircle.config import get_settings
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.demo import activity as demo_activity
from medcircle.demo import service
from medcircle.demo.generator import generate
from medcircle.demo.world import DEFAULT_SEED, DEMO_PASSWORD
from medcircle.kit.errors import DomainError
from medcircle.kit.i18n import set_locale

app = typer.Typer(
    help="The Beijing–Baoding demo world (synthetic people, real institutions).",
    no_args_is_help=True,
)
# wide enough for the logins table even when the output is not a terminal (make, CI logs)
console = Console(width=None if sys.stdout.isatty() else 120)


def _print_logins(logins: list[service.DemoLogin], base_url: str) -> None:
    console.print(f"\nOpen [bold]{base_url}[/bold] and log in as one of:")
    table = Table(show_lines=False)
    table.add_column("Role")
    table.add_column("Username", style="bold")
    table.add_column("Password")
    table.add_column("Institution", overflow="fold")
    for login in logins:
        roles = ", ".join(ROLE_LABELS[Role(r)] for r in login.roles)
        table.add_row(
            roles,
            login.username,
            DEMO_PASSWORD,
            f"{login.institution_code} {login.institution_name_zh}",
        )
    console.print(table)


@app.command("load")
def load(
    seed: int = typer.Option(DEFAULT_SEED, help="the same seed gives the same world"),
    activity: bool = typer.Option(
        True,
        help="also import the hospitals' activity 2013-2024 (about two million encounter "
        "records, a minute or two)",
    ),
) -> None:
    """Load the demo world into an empty database (once; a second run shows the logins)."""
    settings = get_settings()
    set_locale(settings.default_locale)
    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(make_session_factory(engine, writes=True)) as session:
            existing = service.current_world(session)
            if existing is not None:
                console.print(
                    f"[yellow]The demo world is already loaded[/yellow] (seed {existing.seed}, "
                    f"loaded {existing.loaded_at:%Y-%m-%d %H:%M} UTC); nothing to do."
                )
                logins = service.demo_logins(session, generate(existing.seed))
            else:
                with Progress(
                    TextColumn("{task.description:<28}"),
                    BarColumn(),
                    TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(),
                    console=console,
                    transient=False,
                ) as progress:
                    task = progress.add_task(
                        "Generating the world", total=len(service.LOAD_STEPS) + 1
                    )
                    world = generate(seed)
                    progress.update(task, advance=1, description="Writing institutions")

                    def step_done(label: str) -> None:
                        progress.update(task, advance=1, description=f"Wrote {label}")

                    result = service.load_world(
                        session, OPERATOR, world, settings, on_step=step_done
                    )
                    if activity:
                        files = demo_activity.files(world.as_of)
                        rows = progress.add_task(
                            "Importing activity", total=sum(demo_activity.size(f) for f in files)
                        )
                        service.load_activity(
                            session,
                            OPERATOR,
                            seed,
                            files,
                            today=world.as_of,
                            on_rows=lambda n: progress.update(rows, completed=n),
                        )
                    progress.update(task, description="Committing")
                console.print(
                    f"[green]Demo world loaded[/green] (seed {result.seed}): "
                    + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in result.counts.items())
                )
                logins = service.demo_logins(session, world)
    except DomainError as exc:
        console.print(f"[red]{exc.text()}[/red]")
        raise typer.Exit(2) from exc
    except (OperationalError, ProgrammingError) as exc:
        console.print(
            "[red]The database is not ready for the demo world; "
            "run “medcircle db upgrade” first.[/red]"
        )
        console.print(f"[dim]{exc.orig}[/dim]")
        raise typer.Exit(2) from exc
    finally:
        engine.dispose()
    _print_logins(logins, settings.base_url)
