"""Airflow for the UI tests: a throwaway SQLite metadata DB, SimpleAuthManager users, real JWTs.

The environment is set when this module is imported, before anything imports airflow (its
configuration is read once, at import). Settings that may have been read already by another test
package are also forced through `conf.set`.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="sna-ui-airflow-"))
JWT_SECRET = "sna-ui-tests-" + "0123456789abcdef" * 5
AUTH_SETTINGS = {
    ("core", "auth_manager"): "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    ("core", "simple_auth_manager_users"): "admin:admin,viewer:viewer",
    ("core", "simple_auth_manager_all_admins"): "False",
    ("api_auth", "jwt_secret"): JWT_SECRET,
}
os.environ.setdefault("AIRFLOW_HOME", str(_HOME))
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_HOME / 'airflow.db'}")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
for (_section, _key), _value in AUTH_SETTINGS.items():
    os.environ[f"AIRFLOW__{_section.upper()}__{_key.upper()}"] = _value

ORIGIN = "http://testserver"


@pytest.fixture(scope="session")
def airflow_auth():
    """A migrated metadata DB (the auth checks query it) and an initialised auth manager."""
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.configuration import conf
    from airflow.utils.db import initdb

    for (section, key), value in AUTH_SETTINGS.items():
        conf.set(section, key, value)
    initdb()
    manager = create_auth_manager()
    manager.init()
    return manager


@pytest.fixture(scope="session")
def tokens(airflow_auth) -> dict[str, str]:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return {role: airflow_auth.generate_jwt(SimpleAuthManagerUser(username=role, role=role))
            for role in ("admin", "viewer")}


@pytest.fixture
def store(tmp_path):
    from sna.exports import ExportStore
    from sna.runtime import create_registry
    from sna.storage import LocalStorage

    registry = create_registry(f"sqlite:///{tmp_path / 'registry.db'}")
    yield ExportStore(LocalStorage(tmp_path / "files"), registry)
    registry.dispose()


def add_export(store, audience: str = "newsletter_fr", *, platform: str = "google", day: int = 0,
               content: bytes = b"Email,Phone\nx@example.com,+33600000000\n", file_key: str | None = None,
               **fields):
    """A stored file and its entry, as the pipeline records them."""
    from sna.registry import ExportEntry

    reference = date(2024, 1, 1) + timedelta(days=day)
    key = file_key or f"{audience}/{platform}/{audience}_{platform}_{reference.isoformat()}.csv"
    with store.storage.open_writer(key) as writer:
        writer.write(content)
    values = {
        "id": f"{audience[:20]}-{day:05d}", "run_key": f"{audience}/{reference.isoformat()}", "audience": audience,
        "platform": platform, "hashing": "sha256", "filters": {"consent": "newsletter", "countries": ["FR"],
                                                       "require_complete": True},
        "reference_date": reference, "created_at": datetime(2024, 1, 1, 6, tzinfo=UTC) + timedelta(days=day),
        "file_uri": store.storage.uri(key), "file_key": key, "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(), "rows": 2 + day, "scanned": 10 + 2 * day,
        "excluded": {"missing_phone": 5 + day, "no_consent": 3}, "warnings": [], "dag_run_id": None,
    }
    values.update(fields)
    return store.commit(ExportEntry(**values))


@pytest.fixture
def make_client(airflow_auth):
    """A TestClient on the plugin app; `as_user` signs it in with the UI's `_token` cookie."""
    from fastapi.testclient import TestClient

    from sna_ui.app import create_app

    clients: list[TestClient] = []

    def make(store, token: str | None = None, **app_kwargs) -> TestClient:
        client = TestClient(create_app(store_factory=lambda: store, **app_kwargs), follow_redirects=False)
        if token:
            client.cookies.set("_token", token)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def secret_audience_hidden(airflow_auth):
    """An auth manager that, like a real RBAC set-up, lets non-admins read every DAG but `sna_secret`."""
    from airflow.api_fastapi import app as airflow_app

    class OneSecretDag(type(airflow_auth)):
        def is_authorized_dag(self, *, method, user, access_entity=None, details=None):
            if details is not None and details.id == "sna_secret" and user.role != "admin":
                return False
            return super().is_authorized_dag(method=method, user=user, access_entity=access_entity,
                                             details=details)

        def filter_authorized_dag_ids(self, *, dag_ids, user, method="GET", team_name=None):
            allowed = super().filter_authorized_dag_ids(dag_ids=dag_ids, user=user, method=method)
            return allowed if user.role == "admin" else allowed - {"sna_secret"}

    restricted = OneSecretDag()
    restricted.init()
    original = airflow_app._AuthManagerState.instance
    airflow_app._AuthManagerState.instance = restricted
    yield
    airflow_app._AuthManagerState.instance = original


@pytest.fixture
def token_for(airflow_auth):
    """A real JWT for any user name and SimpleAuthManager role."""
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return lambda username, role="viewer": airflow_auth.generate_jwt(SimpleAuthManagerUser(username=username,
                                                                                             role=role))


@pytest.fixture
def grants(airflow_auth):
    """An auth manager that, like a real RBAC set-up, grants some users only some DAG permissions:
    `grants[username] = {(method, access_entity or None, dag_id or "*"), ...}`; other users keep their role's."""
    from airflow.api_fastapi import app as airflow_app

    table: dict[str, set[tuple[str, object, str]]] = {}

    class Granted(type(airflow_auth)):
        def is_authorized_dag(self, *, method, user, access_entity=None, details=None):
            if user.username not in table:
                return super().is_authorized_dag(method=method, user=user, access_entity=access_entity,
                                                 details=details)
            dag_id = details.id if details is not None else None
            return any(m == method and e == access_entity and d in ("*", dag_id) for m, e, d in table[user.username])

        def filter_authorized_dag_ids(self, *, dag_ids, user, method="GET", team_name=None):
            return {d for d in dag_ids if self.is_authorized_dag(method=method, user=user,
                                                                 details=_details(d, team_name))}

    def _details(dag_id, team_name):
        from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

        return DagDetails(id=dag_id, team_name=team_name)

    manager = Granted()
    manager.init()
    original = airflow_app._AuthManagerState.instance
    airflow_app._AuthManagerState.instance = manager
    yield table
    airflow_app._AuthManagerState.instance = original
