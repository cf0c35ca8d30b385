"""Who may do what: Airflow's auth manager decides, per audience DAG; plus CSRF defences for POSTs.

Permissions follow the audience's DAG (`sna_<audience>`, `sna_adhoc_export` for ad-hoc exports):
reading it lets a user see its exports, editing it lets them download the files (customer data) and
deliver them, deleting it lets them delete exports, triggering it lets them refresh now. The page
offers an action only to a user its route would let through (`ACTIONS`: the same questions).
"""

from __future__ import annotations

import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterable
from urllib.parse import urlsplit

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import requires_access_dag
from airflow.configuration import conf
from fastapi import HTTPException, Request, status

from sna_ui.present import dag_id_of

ACTIONS: dict[str, tuple[str, DagAccessEntity | None]] = {
    "download": ("PUT", None),
    "deliver": ("PUT", None),
    "delete": ("DELETE", None),
    "refresh": ("POST", DagAccessEntity.RUN),
}
"""What each action asks of the auth manager about the audience's DAG: its route's dependency
(`requires(action)`) and its button (`allowed_actions`) ask the same question."""


def requires(action: str):  # noqa: ANN201 - FastAPI's dependency
    """The route dependency of an action: Airflow's own `requires_access_dag` with the action's question."""
    method, entity = ACTIONS[action]
    return requires_access_dag(method, entity)


def readable_audiences(user: BaseUser, audiences: Iterable[str]) -> set[str]:
    """The audiences whose DAG the user may read (one batch question to the auth manager); every
    ad-hoc export shares the DAG `sna_adhoc_export`."""
    by_dag: dict[str, set[str]] = defaultdict(set)
    for name in audiences:
        by_dag[dag_id_of(name)].add(name)
    allowed = get_auth_manager().filter_authorized_dag_ids(dag_ids=set(by_dag), user=user, method="GET")
    return {name for dag_id in allowed for name in by_dag[dag_id]}


def allowed_actions(user: BaseUser, dag_ids: Iterable[str]) -> dict[str, set[str]]:
    """For each DAG id, the actions of `ACTIONS` the user may take (as `requires_access_dag` asks:
    the DAG's id and team)."""
    from airflow.models.dag import DagModel

    wanted = sorted(set(dag_ids))
    if not wanted:
        return {}
    teams = DagModel.get_dag_id_to_team_name_mapping(wanted)
    manager = get_auth_manager()
    return {
        dag_id: {
            action for action, (method, entity) in ACTIONS.items()
            if manager.is_authorized_dag(method=method, access_entity=entity, user=user,
                                         details=DagDetails(id=dag_id, team_name=teams.get(dag_id)))
        }
        for dag_id in wanted
    }


def _csrf_secret() -> bytes:
    """Shared by every API server worker: the JWT secret if set, else the API secret key."""
    secret = conf.get("api_auth", "jwt_secret", fallback="") or conf.get("api", "secret_key", fallback="")
    if not secret:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR, "no [api_auth] jwt_secret or [api] secret_key")
    return secret.encode()


def csrf_token(user: BaseUser) -> str:
    """A per-user token (HMAC of the user id): a cross-site page cannot read it, so cannot post it."""
    return hmac.new(_csrf_secret(), f"sna-ui-csrf:{user.get_id()}".encode(), hashlib.sha256).hexdigest()


def _request_origin(request: Request) -> str:
    configured = conf.get("api", "base_url", fallback="") or ""
    if configured.startswith(("http://", "https://")):
        parts = urlsplit(configured)
        return f"{parts.scheme}://{parts.netloc}".lower()
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}".lower()


def check_same_origin(request: Request) -> None:
    """The browser says where a POST comes from (Origin, else Referer): it must be this server."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused: no Origin or Referer")
    parts = urlsplit(source)
    hosts = {_request_origin(request), f"{request.url.scheme}://{request.headers.get('host', '')}".lower()}
    if f"{parts.scheme}://{parts.netloc}".lower() not in hosts:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused: foreign origin")


def check_csrf(request: Request, user: BaseUser, token: str) -> None:
    check_same_origin(request)
    if not hmac.compare_digest(token.encode(), csrf_token(user).encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "cross-site request refused: bad form token")


def user_token(request: Request) -> str:
    """The caller's own JWT, so calls to Airflow's REST API carry the caller's permissions."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    token = request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated")
    return token
