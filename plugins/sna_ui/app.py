"""The FastAPI app behind "Audience exports": built by a factory so tests can inject the store.

Every route needs a signed-in Airflow user (`requires_access_view(PLUGINS)` on the whole app); the
routes add per-audience DAG permissions (see `sna_ui.routes`). Every response carries a strict
Content-Security-Policy that allows framing by the Airflow UI only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx
from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
from airflow.api_fastapi.core_api.security import requires_access_view
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from sna.audience import Audience
from sna.delivery.sync import DeliveryReport
from sna.errors import NotFoundError, SnaError
from sna.exports import ExportStore
from sna.registry import ExportEntry
from sna.registry.access import Actor
from sna_ui.routes import render, router
from sna_ui.store import airflow_store, engine_delivery, yaml_audiences

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

AirflowApi = Callable[[Request], httpx.AsyncClient]
AudienceFiles = Callable[[], Iterable[Audience]]
Deliverer = Callable[[ExportEntry, Actor], DeliveryReport]
"""Delivers an export for the signed-in user (the access log's `who`)."""


def templates() -> Environment:
    """Jinja2 with autoescape on for every template: no value reaches the page unescaped."""
    return Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def airflow_api_client(request: Request) -> httpx.AsyncClient:
    """Airflow's REST API called in process (ASGI), never over the network: neither a request's `Host`
    header nor a proxy can decide where the user's token is sent."""
    from airflow.api_fastapi.app import cached_app

    api = cached_app(apps=os.environ.get("AIRFLOW_API_APPS", "all"))  # the app this server runs
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://airflow.in-process",
                             timeout=15)


class LazyStore:
    """Builds the store on first use (no connection at import or app creation), once per process."""

    def __init__(self, factory: Callable[[], ExportStore]) -> None:
        self._factory = factory
        self._store: ExportStore | None = None
        self._lock = threading.Lock()

    def __call__(self) -> ExportStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._factory()
        return self._store


def create_app(
    store_factory: Callable[[], ExportStore] = airflow_store,
    airflow_api: AirflowApi = airflow_api_client,
    audiences: AudienceFiles = yaml_audiences,
    deliver: Deliverer = engine_delivery,
) -> FastAPI:
    """`audiences` reads the audience files (once per request that needs them): the page shows each
    audience as its file defines it, not as its newest run overrode it. `deliver` sends a recorded
    export to its platform ("Deliver now")."""
    app = FastAPI(
        title="Audience exports",
        dependencies=[Depends(requires_access_view(AccessView.PLUGINS))],
        docs_url=None, redoc_url=None, openapi_url=None,
    )
    app.state.store = LazyStore(store_factory)
    app.state.airflow_api = airflow_api
    app.state.audiences = audiences
    app.state.deliver = deliver
    app.state.templates = templates()

    @app.middleware("http")
    async def security_headers(request: Request, call_next) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    def error_page(request: Request, status_code: int, message: str, headers: dict | None = None) -> HTMLResponse:
        login_url = None
        if status_code == 401:
            from airflow.api_fastapi.app import get_auth_manager

            login_url = get_auth_manager().get_url_login()
        return render(request, "error.html", status_code=status_code, headers=headers,
                      message=message, login_url=login_url)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> HTMLResponse:
        return error_page(request, error.status_code, str(error.detail), getattr(error, "headers", None))

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, error: NotFoundError) -> HTMLResponse:
        return error_page(request, 404, str(error))

    @app.exception_handler(SnaError)
    async def unavailable(request: Request, error: SnaError) -> HTMLResponse:
        return error_page(request, 503, str(error))

    app.include_router(router)
    return app
