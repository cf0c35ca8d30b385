"""The page's routes. Reads are GETs; every change is a POST with a same-origin check and a form token.

Audience-scoped routes carry the audience's DAG id in the path (`/audiences/sna_<name>/...`, and
`/audiences/sna_adhoc_export/...` for every ad-hoc export) so that Airflow's own `requires_access_dag`
decides: GET to see, PUT (edit) to download, DELETE to delete, POST on runs to refresh now. An export
id is only honoured under the DAG id of its own audience. A page offers only the actions its user may
take (`auth.allowed_actions`, the same questions as the routes' dependencies).
"""

from __future__ import annotations

import logging
import re
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlencode

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from sna.audience import Audience
from sna.errors import NotFoundError, SnaError
from sna.exports import ExportStore
from sna.locks import RunInProgressError
from sna.registry import ExportEntry
from sna.registry.access import Actor
from sna_ui import auth, charts, present

log = logging.getLogger(__name__)
router = APIRouter()

PAGE_SIZES = (20, 50, 100, 200)
HISTORY_LENGTH = 60
NOTICES = {
    "deleted": "The export was deleted (file, then entry).",
}
STATIC_FILES = {"sna.css": "text/css; charset=utf-8", "sna.js": "text/javascript; charset=utf-8"}
STATIC_DIR = Path(__file__).parent / "static"


def _actor(user: BaseUser) -> Actor:
    """The signed-in user, as the access log records them."""
    return Actor(str(user.get_name()), "ui")


def _store(request: Request, user: BaseUser | None = None) -> ExportStore:
    """The export store; acting for `user` (the access log records who downloads and deletes)."""
    store = request.app.state.store()
    return store.as_actor(_actor(user)) if user is not None else store


def render(request: Request, template: str, status_code: int = 200, headers: dict | None = None,
           **values) -> HTMLResponse:
    """A page of the app: every template gets `url` (paths of this app's routes), `present` and the notice."""
    def url(name: str, query: dict | None = None, **params) -> str:
        path = request.url_for(name, **params).path
        kept = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        return f"{path}?{urlencode(kept)}" if kept else path

    html = request.app.state.templates.get_template(template).render(
        url=url, present=present, notice=NOTICES.get(request.query_params.get("notice", "")),
        status_code=status_code, **values
    )
    return HTMLResponse(html, status_code=status_code, headers=headers)


def _audience(dag_id: str) -> str:
    audience = present.audience_of(dag_id)
    if audience is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{dag_id} is not an audience DAG")
    return audience


def _entry(store: ExportStore, dag_id: str, export_id: str) -> ExportEntry:
    """The export, only if it belongs to the audience whose DAG permissions were just checked."""
    _audience(dag_id)
    entry = store.get(export_id)
    if present.dag_id_of(entry.audience) != dag_id:
        raise NotFoundError(f"export {export_id} does not belong to {dag_id}")
    return entry


def _definitions(request: Request) -> dict[str, Audience]:
    """The audience files as they are now, read at most once per request (cheap, never stale); a bad
    setting leaves the page working from the registry alone."""
    definitions = getattr(request.state, "sna_definitions", None)
    if definitions is None:
        try:
            definitions = {audience.name: audience for audience in request.app.state.audiences()}
        except SnaError as error:
            log.warning("audience files not read: %s", error)
            definitions = {}
        request.state.sna_definitions = definitions
    return definitions


def _rows(request: Request, user, store: ExportStore, entries: list[ExportEntry]) -> list[dict]:
    """The table's rows, each with the actions its user may take on it."""
    actions = auth.allowed_actions(user, {present.dag_id_of(e.audience) for e in entries})
    return [{**_row(request, store, e), "actions": actions.get(present.dag_id_of(e.audience), set())}
            for e in entries]


DRY_RUNS_SHOWN = 10


def _dry_rows(request: Request, store: ExportStore, *, audiences: set[str] | None, platform: str | None = None
              ) -> list[dict]:
    """The latest dry runs of `audiences` (None: every audience), as table rows (counts only)."""
    found = store.dry_runs(audiences=audiences, platform=platform, limit=DRY_RUNS_SHOWN)
    return [{
        "entry": d, "adhoc_name": present.adhoc_name(d.audience), "dag_id": present.dag_id_of(d.audience),
        "overrides": present.overrides(d, _definitions(request).get(d.audience)),
        "filters": present.filter_summary(d.filters), "reasons": present.main_reasons(d.excluded),
    } for d in found]


def _row(request: Request, store: ExportStore, entry: ExportEntry) -> dict:
    definition = _definitions(request).get(entry.audience)
    return {
        "entry": entry,
        "delivers": definition is not None and definition.delivery is not None,
        "adhoc_name": present.adhoc_name(entry.audience),
        "overrides": present.overrides(entry, definition),
        "file_name": store.file_name(entry),
        "dag_id": present.dag_id_of(entry.audience),
        "filters": present.filter_summary(entry.filters),
        "reasons": present.main_reasons(entry.excluded),
        "size": present.human_size(entry.size),
    }


ACCESS_LOG_SHOWN = 20


def _access_log(store: ExportStore, user: BaseUser, audience: str | None) -> list[dict] | None:
    """The latest access-log rows of the audiences whose exports the user may delete (the delete
    button's question, `auth.allowed_actions`), `audience` alone when the list is filtered; None when
    the user may delete none: the section is not shown at all."""
    known = set(store.access.audiences()) | set(store.audiences())
    if audience is not None:
        known &= {audience}
    actions = auth.allowed_actions(user, {present.dag_id_of(name) for name in known})
    allowed = {name for name in known if "delete" in actions.get(present.dag_id_of(name), set())}
    if not allowed:
        return None
    return [{"event": event, "label": present.audience_label(event.audience)}
            for event in store.access.list(audiences=allowed, limit=ACCESS_LOG_SHOWN)]


@router.get("/", name="index")
def index(
    request: Request,
    user: GetUserDep,
    audience: Annotated[str | None, Query(max_length=64)] = None,
    platform: Annotated[str | None, Query(max_length=16)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=max(PAGE_SIZES))] = 50,
) -> HTMLResponse:
    """Exports of the audiences the user may read, newest first, one page at a time."""
    store = _store(request)
    known = store.known_audiences()
    readable = auth.readable_audiences(user, known)
    audience = audience or None
    platform = platform if platform in present.PLATFORM_LABELS else None
    if audience is not None:
        scope: set[str] | None = {audience} & readable
    else:
        scope = None if readable == set(known) else readable
    entries, total = store.page(audiences=scope, platform=platform, limit=per_page, offset=(page - 1) * per_page)
    dry_scope = scope if audience is None else ({audience} & readable)
    return render(
        request, "index.html",
        rows=_rows(request, user, store, entries), total=total, page=page, per_page=per_page,
        dry_runs=_dry_rows(request, store, audiences=dry_scope, platform=platform) if page == 1 else [],
        pages=max(1, -(-total // per_page)), audiences=sorted(readable), audience=audience, platform=platform,
        platforms=present.PLATFORM_LABELS, csrf=auth.csrf_token(user),
        access_log=_access_log(store, user, audience) if page == 1 else None,
    )


@router.get("/static/{file}", name="static")
def static(file: str) -> Response:
    """The page's own assets, served by the app itself (no CDN, allowed by `default-src 'self'`)."""
    if file not in STATIC_FILES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    return Response((STATIC_DIR / file).read_bytes(), media_type=STATIC_FILES[file])


@router.get("/audiences/{dag_id}", name="audience", dependencies=[Depends(requires_access_dag("GET"))])
def audience_page(
    request: Request, user: GetUserDep, dag_id: str,
    name: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9_]*$")] = None,
) -> HTMLResponse:
    """Required fields of the audience's platform, and its size over its latest exports. Under
    `sna_adhoc_export`: the ad-hoc exports, all of them or those of one export `name`."""
    store = _store(request)
    if dag_id == present.ADHOC_DAG_ID:
        known = store.known_audiences()
        scope = {present.ADHOC_PREFIX + name} if name else {a for a in known if present.adhoc_name(a) is not None}
        title = f"{name} (ad hoc)" if name else "Ad-hoc exports"
    else:
        scope, title = {_audience(dag_id)}, _audience(dag_id)
    latest = store.list(audiences=scope, limit=HISTORY_LENGTH) if scope else []
    dry_runs = _dry_rows(request, store, audiences=scope) if scope else []
    if not latest and not dry_runs:
        raise NotFoundError(f"{title} has no export")
    chart = None
    if len(scope) == 1 and latest:
        history = sorted(latest, key=lambda e: (e.reference_date, e.created_at))
        chart = charts.size_history([e.reference_date.isoformat() for e in history], [e.rows for e in history],
                                    [e.scanned for e in history])
    newest = latest[0] if latest else dry_runs[0]["entry"]
    view = present.audience_view(title, _definitions(request).get(title), newest)
    return render(
        request, "audience.html",
        audience=view, dag_id=dag_id, chart=chart, rows=_rows(request, user, store, latest), dry_runs=dry_runs,
        actions=auth.allowed_actions(user, {dag_id}).get(dag_id, set()), csrf=auth.csrf_token(user),
    )


@router.get("/audiences/{dag_id}/exports/{export_id}", name="export",
            dependencies=[Depends(requires_access_dag("GET"))])
def export_page(request: Request, user: GetUserDep, dag_id: str, export_id: str) -> HTMLResponse:
    """One export, with a bar chart of why customers were left out."""
    store = _store(request)
    entry = _entry(store, dag_id, export_id)
    (row,) = _rows(request, user, store, [entry])
    return render(
        request, "export.html",
        row=row, dag_id=dag_id, chart=charts.reason_bars(entry.excluded),
        presigned=store.links_presigned, csrf=auth.csrf_token(user),
    )


def _attachment(file_name: str) -> str:
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", file_name) or "export.csv"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name, safe='')}"


@router.get("/audiences/{dag_id}/exports/{export_id}/download", name="download",
            dependencies=[Depends(auth.requires("download"))])
def download(
    request: Request, user: GetUserDep, dag_id: str, export_id: str, link: Annotated[bool, Query()] = False
) -> Response:
    """The file, streamed from storage; with `?link=true` on S3, a redirect to a 5-minute presigned URL."""
    store = _store(request, user)
    entry = _entry(store, dag_id, export_id)
    if link:
        url = store.presigned_link(entry)  # at most MAX_PRESIGNED_SECONDS, logged as a download
        if url:
            return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)
    file_name, opener = store.open(entry.id)
    stack = ExitStack()
    stream = stack.enter_context(opener)

    def chunks():
        with stack:
            while data := stream.read(256 * 1024):
                yield data

    return StreamingResponse(
        chunks(), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": _attachment(file_name)}
    )


@router.get("/audiences/{dag_id}/exports/{export_id}/delete", name="confirm_delete",
            dependencies=[Depends(auth.requires("delete"))])
def confirm_delete(request: Request, user: GetUserDep, dag_id: str, export_id: str) -> HTMLResponse:
    """Asks first; the deletion itself is the POST below."""
    store = _store(request)
    entry = _entry(store, dag_id, export_id)
    return render(request, "confirm_delete.html", row=_row(request, store, entry), dag_id=dag_id,
                  csrf=auth.csrf_token(user))


@router.post("/audiences/{dag_id}/exports/{export_id}/delete", name="delete",
             dependencies=[Depends(auth.requires("delete"))])
def delete(
    request: Request, user: GetUserDep, dag_id: str, export_id: str, csrf_token: Annotated[str, Form()] = ""
) -> RedirectResponse:
    auth.check_csrf(request, user, csrf_token)
    store = _store(request, user)
    entry = _entry(store, dag_id, export_id)
    store.delete(entry.id)
    target = request.url_for("index").path + "?" + urlencode({"notice": "deleted"})
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:300]


@router.post("/audiences/{dag_id}/exports/{export_id}/deliver", name="deliver",
             dependencies=[Depends(auth.requires("deliver"))])
def deliver(
    request: Request, user: GetUserDep, dag_id: str, export_id: str, csrf_token: Annotated[str, Form()] = ""
) -> HTMLResponse:
    """Delivers the export to its platform now (the engine's `deliver_export`, with the delivery block
    of its audience file), then shows the counts, or one line saying why not: never a traceback, never
    a token (an unexpected error shows only its type; the log gets no more)."""
    auth.check_csrf(request, user, csrf_token)
    store = _store(request)
    entry = _entry(store, dag_id, export_id)
    definition = _definitions(request).get(entry.audience)
    if definition is None or definition.delivery is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"audience {entry.audience} has no delivery block in "
                                                       "its audience file: nothing to deliver to")
    try:
        report = request.app.state.deliver(entry, _actor(user))
    except RunInProgressError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, _one_line(error)) from None
    except NotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, _one_line(error)) from None
    except SnaError as error:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, _one_line(error)) from None
    except Exception as error:  # noqa: BLE001 - its message may hold a URL with a token: only its type
        log.error("delivery of export %s failed: internal error %s", entry.id, type(error).__name__)
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, f"delivery of export {entry.id} failed: "
                            f"internal error ({type(error).__name__}); see the API server's log") from None
    return render(request, "delivered.html", row=_row(request, store, entry), dag_id=dag_id, report=report)


def _trigger_body(store: ExportStore, dag_id: str, export_id: str) -> dict:
    """What Airflow is asked to run: the audience's DAG as scheduled, or for `sna_adhoc_export` the
    form again with the values one of its exports was made with."""
    if dag_id != present.ADHOC_DAG_ID:
        _audience(dag_id)
        return {"logical_date": None}
    if not export_id:
        raise HTTPException(status.HTTP_400_BAD_REQUEST,
                            "an ad-hoc export is run again from one of its exports: none was given")
    from sna_airflow.adhoc import form_params

    entry = _entry(store, dag_id, export_id)
    return {"logical_date": None, "conf": present.adhoc_form_values(entry, form_params())}


@router.post("/audiences/{dag_id}/refresh", name="refresh", dependencies=[Depends(auth.requires("refresh"))])
async def refresh(
    request: Request, user: GetUserDep, dag_id: str, csrf_token: Annotated[str, Form()] = "",
    export_id: Annotated[str, Form(max_length=64)] = "",
) -> RedirectResponse:
    """Triggers the audience's DAG through Airflow's REST API with the user's own token (an ad-hoc
    export: a new `sna_adhoc_export` run with the same form values)."""
    auth.check_csrf(request, user, csrf_token)
    body = await run_in_threadpool(_trigger_body, _store(request), dag_id, export_id)
    token = auth.user_token(request)
    async with request.app.state.airflow_api(request) as client:
        response = await client.post(
            f"api/v2/dags/{quote(dag_id, safe='')}/dagRuns", json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
    if response.status_code >= 300:
        raise HTTPException(_our_code(response.status_code), f"Airflow did not trigger {dag_id}: HTTP "
                            f"{response.status_code} {_TRIGGER_FAILURES.get(response.status_code, '')}".rstrip())
    run_id = _answer(response, dag_id).get("dag_run_id")
    if not isinstance(run_id, str) or not run_id:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"Airflow triggered {dag_id} but named no run")
    await run_in_threadpool(_log_refresh, _store(request, user), dag_id, body, run_id)
    target = request.url_for("run", dag_id=dag_id, run_id=run_id).path
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


def _log_refresh(store: ExportStore, dag_id: str, body: dict, run_id: str) -> None:
    """The access log's record of a triggered run: the audience (an ad-hoc export's by its form's name)."""
    name = (body.get("conf") or {}).get("name")
    audience = present.ADHOC_PREFIX + name if dag_id == present.ADHOC_DAG_ID and name else _audience(dag_id)
    store.access.record("refresh", audience=audience, actor=store.actor, detail=f"run {run_id}")


def _our_code(upstream: int) -> int:
    return upstream if 400 <= upstream < 500 else status.HTTP_502_BAD_GATEWAY


def _answer(response, dag_id: str) -> dict:
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"Airflow's answer about {dag_id} is not a DAG run")
    return document


_TRIGGER_FAILURES = {
    401: "(not signed in)", 403: "(you may not trigger this DAG)", 404: "(the DAG is not in Airflow)",
    409: "(a run of this DAG already exists for this date)", 422: "(Airflow refused the request)",
}
"""Our words for Airflow's answer: its body is never echoed into the page."""

RUN_STATES = {
    "queued": "waiting for a worker",
    "running": "running",
    "success": "done",
    "failed": "failed: the run's logs in Airflow say why",
}
FINAL_STATES = frozenset({"success", "failed"})
POLL_SECONDS = 3


def _airflow_ui_root(request: Request) -> str:
    """Where Airflow's own UI is: the path this app is mounted under, without the plugin's prefix."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return root.rsplit("/", 1)[0] if root else ""


@router.get("/audiences/{dag_id}/runs/{run_id}", name="run",
            dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.RUN))])
async def run_page(
    request: Request, dag_id: str, run_id: Annotated[str, PathParam(min_length=1, max_length=250)]
) -> HTMLResponse:
    """A triggered run until it ends: its state from Airflow's REST API (in process, with the user's own
    token); the page reloads itself every few seconds while the run is queued or running."""
    _audience(dag_id)
    token = auth.user_token(request)
    async with request.app.state.airflow_api(request) as client:
        response = await client.get(
            f"api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(run_id, safe='')}",
            headers={"Authorization": f"Bearer {token}"},
        )
    if response.status_code == status.HTTP_404_NOT_FOUND:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Airflow has no run {run_id} of {dag_id}")
    if response.status_code >= 300:
        raise HTTPException(_our_code(response.status_code), f"Airflow did not show run {run_id} of {dag_id}: "
                            f"HTTP {response.status_code} {_RUN_FAILURES.get(response.status_code, '')}".rstrip())
    document = _answer(response, dag_id)
    state = str(document.get("state") or "queued")
    conf = document.get("conf") if isinstance(document.get("conf"), dict) else {}
    name = conf.get("name") if dag_id == present.ADHOC_DAG_ID and isinstance(conf.get("name"), str) else None
    return render(
        request, "run.html",
        dag_id=dag_id, run_id=run_id, state=state, state_text=RUN_STATES.get(state, state),
        final=state in FINAL_STATES, poll_seconds=POLL_SECONDS, dry_run=bool(conf.get("dry_run")),
        reference_date=present.run_reference_date(document), adhoc_name=name,
        airflow_run=f"{_airflow_ui_root(request)}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}",
    )


_RUN_FAILURES = {401: "(not signed in)", 403: "(you may not see this DAG's runs)"}
