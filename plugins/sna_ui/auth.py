"""Who may do what: Airflow's auth manager decides, per audience DAG; plus CSRF defences for POSTs.

Permissions follow the audience's DAG (`sna_<audience>`): reading it lets a user see its exports,
editing it lets them download the files (customer data), deleting it lets them delete exports,
triggering it lets them refresh now.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.configuration import conf
from fastapi import HTTPException, Request, status

from sna_ui.present import dag_id_of


def readable_audiences(user: BaseUser, audiences: list[str]) -> set[str]:
    """The audiences whose DAG the user may read (one batch question to the auth manager)."""
    by_dag = {dag_id_of(name): name for name in audiences}
    allowed = get_auth_manager().filter_authorized_dag_ids(dag_ids=set(by_dag), user=user, method="GET")
    return {by_dag[dag_id] for dag_id in allowed}


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
