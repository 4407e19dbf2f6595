"""create_app(): the FastAPI application with every domain's API and pages."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from medcircle import __version__
from medcircle.audit.batch import AuditWriter
from medcircle.config import Settings, get_settings
from medcircle.db import make_engine, make_session_factory
from medcircle.tasks.runner import lifespan as timers_lifespan
from medcircle.web import errors
from medcircle.web.middleware import BodyLimit, SecurityHeaders

PACKAGE_DIR = Path(__file__).resolve().parent
# front-end packages installed from the npm registry at set-up (never committed)
NODE_MODULES = PACKAGE_DIR.parent.parent / "node_modules"

API_DESCRIPTION = """
The JSON API of medcircle. Authenticate with a personal API token
(`Authorization: Bearer mc_…`, created on the account page or at `POST /api/v1/me/tokens`).
Errors are RFC 9457 `application/problem+json` with a stable `code`.
Lists are paginated with `page` and `size` and return `items`, `total`, `page`, `size`.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While the app serves: this process's timer runner; at the end, the last audit batch,
    and the connections of its own are closed."""
    async with timers_lifespan(app):
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(app.state.audit_writer.close)
            if app.state.loop_engine is not None:
                app.state.loop_engine.dispose()


def _own_engine(settings: Settings, engine: Engine) -> Engine:
    url = engine.url.render_as_string(hide_password=False)
    return make_engine(url, echo=settings.sql_echo, single=True)


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
    session_factory: sessionmaker[Session] | None = None,
) -> FastAPI:
    """Build the application for ``settings`` (the environment's by default)."""
    settings = settings or get_settings()
    engine = engine or make_engine(
        settings.database_url,
        echo=settings.sql_echo,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    app = FastAPI(
        title="medcircle",
        version=__version__,
        description=API_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory or make_session_factory(engine)
    app.state.write_session_factory = session_factory or make_session_factory(engine, writes=True)
    # with the caller's own sessions (tests) the audit trail goes through them too
    app.state.audit_writer = AuditWriter(
        app.state.write_session_factory,
        engine=None if session_factory is not None else _own_engine(settings, engine),
    )
    # on SQLite the event loop runs the hottest reads itself, on a connection of its own
    # (with the caller's own sessions, through those); elsewhere worker threads do
    app.state.loop_engine = None
    app.state.loop_session_factory = None
    if engine.dialect.name == "sqlite":
        if session_factory is None:
            app.state.loop_engine = _own_engine(settings, engine)
            app.state.loop_session_factory = make_session_factory(app.state.loop_engine)
        else:
            app.state.loop_session_factory = session_factory
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    errors.install(app)
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes)
    app.add_middleware(SecurityHeaders)

    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "web" / "static"), name="static")
    if NODE_MODULES.is_dir():
        app.mount("/vendor", StaticFiles(directory=NODE_MODULES), name="vendor")

    from medcircle.activity import pages as activity_pages
    from medcircle.activity import router as activity_router
    from medcircle.agreements import pages as agreement_pages
    from medcircle.agreements import router as agreement_router
    from medcircle.audit import pages as audit_pages
    from medcircle.audit import router as audit_router
    from medcircle.auth import pages as auth_pages
    from medcircle.auth import router as auth_router
    from medcircle.consultations import files_router as consult_files_router
    from medcircle.consultations import measures_pages as consult_measures_pages
    from medcircle.consultations import measures_router as consult_measures_router
    from medcircle.consultations import pages as consult_pages
    from medcircle.consultations import rota_pages as consult_rota_pages
    from medcircle.consultations import rota_router as consult_rota_router
    from medcircle.consultations import router as consult_router
    from medcircle.consultations import session_pages as consult_session_pages
    from medcircle.consultations import sessions_router as consult_sessions_router
    from medcircle.consultations import target_pages as consult_target_pages
    from medcircle.consultations import targets_router as consult_targets_router
    from medcircle.dispatch import availability_pages as dispatch_experts_pages
    from medcircle.dispatch import availability_router as dispatch_experts_router
    from medcircle.dispatch import calendar_pages as dispatch_calendar_pages
    from medcircle.dispatch import calendar_router as dispatch_calendar_router
    from medcircle.dispatch import demand_pages as dispatch_demand_pages
    from medcircle.dispatch import demand_router as dispatch_demand_router
    from medcircle.dispatch import map_pages as dispatch_map_pages
    from medcircle.dispatch import map_router as dispatch_map_router
    from medcircle.dispatch import plan_pages as dispatch_plan_pages
    from medcircle.dispatch import plans_router as dispatch_plans_router
    from medcircle.dispatch import travel_pages as dispatch_travel_pages
    from medcircle.dispatch import travel_router as dispatch_travel_router
    from medcircle.dispatch import visit_measures_pages, visit_measures_router, visits_pages
    from medcircle.dispatch import visits_router as visit_router
    from medcircle.kpis import bulletin_pages, bulletin_router
    from medcircle.kpis import pages as kpi_pages
    from medcircle.kpis import router as kpi_router
    from medcircle.notifications import pages as notification_pages
    from medcircle.notifications import router as notification_router
    from medcircle.patients import pages as patient_pages
    from medcircle.patients import router as patient_router
    from medcircle.pools import pages as pool_pages
    from medcircle.pools import router as pool_router
    from medcircle.referrals import lists_router as referral_lists_router
    from medcircle.referrals import pages as referral_pages
    from medcircle.referrals import router as referral_router
    from medcircle.referrals import status_pages as referral_status_pages
    from medcircle.registry import pages as registry_pages
    from medcircle.registry import router as registry_router
    from medcircle.web import pages as web_pages

    api_modules = (
        auth_router,
        audit_router,
        registry_router,
        agreement_router,
        patient_router,
        referral_router,
        referral_lists_router,
        consult_router,
        consult_targets_router,
        consult_files_router,
        consult_rota_router,
        consult_sessions_router,
        consult_measures_router,
        dispatch_calendar_router,
        dispatch_demand_router,
        dispatch_map_router,
        dispatch_plans_router,
        dispatch_experts_router,
        dispatch_travel_router,
        visit_router,
        visit_measures_router,
        pool_router,
        activity_router,
        kpi_router,
        bulletin_router,
        notification_router,
    )
    for module in api_modules:
        app.include_router(module.router)  # each serves under /api/v1 (its own prefix)
    page_modules = (
        web_pages,
        auth_pages,
        audit_pages,
        registry_pages,
        agreement_pages,
        patient_pages,
        referral_pages,
        referral_status_pages,
        consult_pages,
        consult_target_pages,
        consult_rota_pages,
        consult_session_pages,
        consult_measures_pages,
        dispatch_calendar_pages,
        dispatch_map_pages,
        dispatch_demand_pages,
        dispatch_plan_pages,
        dispatch_experts_pages,
        dispatch_travel_pages,
        visit_measures_pages,
        visits_pages,
        pool_pages,
        activity_pages,
        kpi_pages,
        bulletin_pages,
        notification_pages,
    )
    for module in page_modules:
        app.include_router(module.router, include_in_schema=False)

    @app.get("/api/v1/ping", tags=["meta"])
    def ping() -> dict[str, str]:
        """A trivial endpoint: liveness, and the ceiling for benchmarks."""
        return {"status": "ok", "version": __version__}

    @app.get("/docs", include_in_schema=False)
    def swagger(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/api/v1/openapi.json",
            title="medcircle API",
            swagger_js_url="/vendor/swagger-ui-dist/swagger-ui-bundle.js",
            swagger_css_url="/vendor/swagger-ui-dist/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
            # an API this size draws quickly only folded: one line per area, opened on a click
            swagger_ui_parameters={"docExpansion": "none", "defaultModelsExpandDepth": -1},
        )

    logging.getLogger("medcircle").setLevel(logging.INFO)
    return app
