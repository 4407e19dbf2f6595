"""medcircle user: accounts from the command line (the first platform admin, say)."""

from __future__ import annotations

import typer
from rich.console import Console

from medcircle.auth import service
from medcircle.auth.domain import Actor, Role
from medcircle.auth.schemas import UserCreate
from medcircle.config import get_settings
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.kit.errors import DomainError
from medcircle.registry.models import Institution

app = typer.Typer(help="User accounts.", no_args_is_help=True)
console = Console()

# The command line acts as the operator, with every permission.
OPERATOR = Actor(
    user_id=0, username="cli", institution_id=0, roles=frozenset({Role.PLATFORM_ADMIN})
)


@app.command("create")
def create(
    username: str = typer.Argument(...),
    institution: str = typer.Option(..., help="institution code, e.g. BCH"),
    role: list[Role] = typer.Option(..., "--role", help="may be given more than once"),
    display_name: str = typer.Option(None, help="defaults to the user name"),
    email: str = typer.Option(None),
    locale: str = typer.Option("zh_Hans"),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Create a user account."""
    from sqlalchemy import select

    engine = make_engine(get_settings().database_url)
    try:
        with unit_of_work(make_session_factory(engine, writes=True)) as session:
            inst = session.scalar(
                select(Institution).where(Institution.code == institution.upper())
            )
            if inst is None:
                console.print(f"[red]Unknown institution code {institution}[/red]")
                raise typer.Exit(2)
            user = service.create_user(
                session,
                OPERATOR,
                UserCreate(
                    username=username,
                    display_name=display_name or username,
                    email=email,
                    password=password,
                    institution_id=inst.id,
                    roles=role,
                    locale=locale,
                ),
            )
            console.print(f"[green]Created user {user.username}[/green] (id {user.id})")
    except DomainError as exc:
        console.print(f"[red]{exc.text()}[/red]")
        for fe in exc.field_errors:
            console.print(f"  {fe.field}: {fe.text()}")
        raise typer.Exit(2) from exc
