"""Every route of the UI plugin refuses anonymous and unprivileged requests; the route list is read
from the app itself, so a route added later is checked without anyone editing this file.

For every route and method of `sna_ui.app.create_app(...)`: its FastAPI dependency tree holds
Airflow's authentication (`get_user`) and an Airflow authorization check (`requires_access_*`,
the DAG's own permission when the path names a DAG); an anonymous request gets 401, a forged or
expired token is refused; a user who may not read the audience's DAG gets 403 (or, on a page that
lists, does not see it); a viewer gets 403 on every state-changing route and never receives the
file; an admin reaches every route (so the refusals above are the checks' doing, not a wrong URL).
A route that is neither guarded nor in the public-safe allowlist fails, and so does a path
parameter this file cannot fill.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.ui.conftest import JWT_SECRET, ORIGIN, add_export

PUBLIC_SAFE: set[tuple[str, str]] = set()
"""(method, path) that may answer without a signed-in user: none today (even the stylesheet is
served to signed-in users only). Only static assets holding nothing about any shop may go here."""

FILE_CONTENT = b"Email,Phone\nroute-check-secret@example.com,+33600000001\n"
SECURITY = "airflow.api_fastapi.core_api.security"


# -- the app's own description of its routes ----------------------------------------------------


def route_methods(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    found = []
    for route in app.routes:
        if not isinstance(route, APIRoute):
            pytest.fail(f"{type(route).__name__} {getattr(route, 'path', route)}: not an APIRoute, not checked")
        found += [(method, route.path, route) for method in sorted(route.methods)]
    return found


def _calls(dependant: Any) -> list[Any]:
    calls = []
    for dependency in dependant.dependencies:
        calls.append(dependency.call)
        calls += _calls(dependency)
    return calls


def _is_authorization(call: Any) -> bool:
    return getattr(call, "__module__", "") == SECURITY and getattr(call, "__qualname__", "").startswith(
        "requires_access_")


def required_dag_method(route: APIRoute) -> str | None:
    """The DAG permission a route asks of Airflow (`requires_access_dag(method)`), if any."""
    for call in _calls(route.dependant):
        if getattr(call, "__qualname__", "").startswith("requires_access_dag."):
            return inspect.getclosurevars(call).nonlocals["method"]
    return None


def unguarded(app: FastAPI) -> list[str]:
    """Routes whose dependency tree lacks Airflow's authentication or authorization."""
    problems = []
    for method, path, route in route_methods(app):
        if (method, path) in PUBLIC_SAFE:
            continue
        calls = _calls(route.dependant)
        if not any(getattr(c, "__module__", "") == SECURITY and c.__name__ == "get_user" for c in calls):
            problems.append(f"{method} {path}: no authentication (get_user)")
        if not any(_is_authorization(c) for c in calls):
            problems.append(f"{method} {path}: no authorization (requires_access_*)")
        if "{dag_id}" in path and required_dag_method(route) is None:
            problems.append(f"{method} {path}: names a DAG but does not check the DAG's permission")
    return problems


def url_of(path: str, values: dict[str, str]) -> str:
    try:
        return path.format(**values)
    except KeyError as missing:
        pytest.fail(f"{path}: path parameter {missing} is new; teach test_ui_routes.py a value for it")


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def airflow_api():
    from airflow.api_fastapi.app import create_app

    api = create_app(apps="core")
    return lambda request: httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://airflow")


def _csrf(role: str) -> str:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    from sna_ui.auth import csrf_token

    return csrf_token(SimpleAuthManagerUser(username=role, role=role))


def _refused_tokens(tokens: dict[str, str]) -> dict[str, str]:
    """A token signed with another key, and an expired one signed with the right key."""
    header = jwt.get_unverified_header(tokens["admin"])
    claims = jwt.decode(tokens["admin"], options={"verify_signature": False})
    forged = jwt.encode(claims, "not-the-secret-" + "x" * 64, algorithm=header["alg"])
    expired = jwt.encode({**claims, "exp": datetime.now(UTC) - timedelta(minutes=5),
                          "iat": datetime.now(UTC) - timedelta(hours=1)}, JWT_SECRET, algorithm=header["alg"])
    return {"forged signature": forged, "expired": expired}


def _request(client, method: str, url: str, role: str | None):
    data = {"csrf_token": _csrf(role)} if role else {"csrf_token": "x"}
    if method == "GET":
        return client.get(url)
    return client.request(method, url, data=data, headers={"Origin": ORIGIN})


# -- tests --------------------------------------------------------------------------------------


def test_every_route_depends_on_airflow_authentication_and_authorization(airflow_auth, figures) -> None:
    from sna_ui.app import create_app

    app = create_app(store_factory=lambda: None)
    routes = route_methods(app)
    assert len(routes) >= 7
    assert unguarded(app) == []
    figures.add("ui_routes", routes=len({path for _, path, _ in routes}), route_methods=len(routes))


def test_a_route_added_without_a_guard_is_caught(airflow_auth) -> None:
    """The check is not blind: the same routes on an app without the plugin-level dependency, plus a
    new bare route, are reported."""
    from sna_ui.routes import router

    bare = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    bare.include_router(router)

    @bare.get("/new-report")
    def new_report() -> dict:
        return {}

    problems = unguarded(bare)
    assert any(p.startswith("GET /new-report: no authentication") for p in problems)
    assert any(p.startswith("GET /: no authorization") for p in problems)


def test_every_route_refuses_whoever_may_not_use_it(store, make_client, tokens, secret_audience_hidden,
                                                    airflow_api, figures) -> None:
    from sna_ui.app import create_app

    public = add_export(store, "public", content=FILE_CONTENT)
    secret = add_export(store, "secret", content=FILE_CONTENT)
    run_id = "manual__2024-01-01T00:00:00+00:00"
    values = {"public": {"dag_id": "sna_public", "export_id": public.id, "file": "sna.css", "run_id": run_id},
              "secret": {"dag_id": "sna_secret", "export_id": secret.id, "file": "sna.css", "run_id": run_id}}
    routes = route_methods(create_app(store_factory=lambda: store))
    clients = {"anonymous": make_client(store, airflow_api=airflow_api),
               "viewer": make_client(store, tokens["viewer"], airflow_api=airflow_api),
               "admin": make_client(store, tokens["admin"], airflow_api=airflow_api)}
    for label, token in _refused_tokens(tokens).items():
        clients[label] = make_client(store, token, airflow_api=airflow_api)
    checks = 0

    for method, path, route in routes:
        public_url, secret_url = url_of(path, values["public"]), url_of(path, values["secret"])
        if (method, path) not in PUBLIC_SAFE:
            for who in ("anonymous", "forged signature", "expired"):
                response = _request(clients[who], method, public_url, None)
                assert response.status_code in ((401,) if who == "anonymous" else (401, 403)), (who, method, path)
                assert FILE_CONTENT not in response.content
                checks += 1

        # a user who may not read the audience's DAG (the viewer, for `secret`)
        response = _request(clients["viewer"], method, secret_url, "viewer")
        if "{dag_id}" in path:
            assert response.status_code == 403, (method, path, response.status_code)
        else:
            assert secret.id not in response.text and ">secret<" not in response.text, (method, path)
        assert FILE_CONTENT not in response.content
        checks += 1

        # a viewer on an audience it may read: no change, no file
        response = _request(clients["viewer"], method, public_url, "viewer")
        needs = required_dag_method(route)
        if method != "GET" or (needs is not None and needs != "GET"):
            assert response.status_code == 403, (method, path, response.status_code)
        assert FILE_CONTENT not in response.content, (method, path)
        checks += 1

    assert store.registry.get(public.id) is not None and store.storage.exists(public.file_key)
    reached = {}
    for method, path, _route in sorted(routes, key=lambda r: r[0] == "POST"):  # deleting comes last
        response = _request(clients["admin"], method, url_of(path, values["public"]), "admin")
        reached[f"{method} {path}"] = response.status_code
        checks += 1
    assert all(code not in (401, 403, 405, 422) for code in reached.values()), reached
    assert reached["GET /audiences/{dag_id}/exports/{export_id}/download"] == 200

    roles = len(clients) + 1  # and the user without read access (the viewer on `secret`)
    figures.add("ui_routes", roles=roles, route_role_checks=checks, unguarded_routes=0)
