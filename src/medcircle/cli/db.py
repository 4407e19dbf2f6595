"""medcircle db: migrations and reference data."""

from __future__ import annotations

from pathlib import Path

import typer
from alembic import command
from alembic.config import Config
from rich.console import Console

from medcircle.config import get_settings
from medcircle.db import make_engine, make_session_factory, unit_of_work

app = typer.Typer(
    help="Database schema (Alembic migrations) and reference data.", no_args_is_help=True
)
console = Console()
ROOT = Path(__file__).resolve().parents[3]


def alembic_config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(url: str) -> None:
    """Migrate ``url`` to the newest schema and load the reference data."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), "head")
    from medcircle.registry.reference import load_reference_data

    engine = make_engine(url)
    with unit_of_work(make_session_factory(engine, writes=True)) as session:
        load_reference_data(session)
    engine.dispose()


@app.command("upgrade")
def upgrade() -> None:
    """Migrate the database to the newest schema and load reference data."""
    url = get_settings().database_url
    upgrade_database(url)
    shown = make_engine(url).url.render_as_string(hide_password=True)
    console.print(f"[green]Database is at the newest schema[/green] ({shown})")


@app.command("downgrade")
def downgrade(revision: str = typer.Argument("-1", help="target revision")) -> None:
    """Step the schema back (for operators undoing an upgrade)."""
    command.downgrade(alembic_config(get_settings().database_url), revision)


@app.command("current")
def current() -> None:
    """Show the schema revision of the database."""
    command.current(alembic_config(get_settings().database_url), verbose=False)
