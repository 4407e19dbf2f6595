"""medcircle demo: the Beijing–Baoding demo world."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="The Beijing–Baoding demo world (synthetic people, real institutions).",
    no_args_is_help=True,
)


@app.command("load")
def load(seed: int = typer.Option(2017, help="the same seed gives the same world")) -> None:
    """Load the demo world (being built)."""
    raise typer.Exit(1)
