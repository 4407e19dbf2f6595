"""medcircle: the command line of the platform."""

from __future__ import annotations

import typer

from medcircle.cli import activity, db, demo, timers, user

app = typer.Typer(help="medcircle: run a cross-regional medical care circle.", no_args_is_help=True)
app.add_typer(db.app, name="db")
app.add_typer(user.app, name="user")
app.add_typer(demo.app, name="demo")
app.add_typer(timers.app, name="timers")
app.add_typer(activity.app, name="activity")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    workers: int = typer.Option(1, help="app processes; they share nothing but the database"),
    reload: bool = typer.Option(False, help="restart on code changes (development)"),
) -> None:
    """Serve the platform (pages, JSON API at /api/v1, docs at /docs)."""
    import uvicorn

    uvicorn.run(
        "medcircle.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
        log_level="info",
    )


if __name__ == "__main__":
    app()
