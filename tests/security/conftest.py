"""Security tests: Airflow set up as in tests/airflow (metadata DB, dags/) and tests/ui (auth manager,
users admin and viewer, JWTs); both conftests set the environment when imported, before airflow is.

The full runs that the PII and credential tests read are done once per session (`observed_runs`),
and every test adds its figures to `test-artifacts/guarantees-security.json`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.airflow.conftest import airflow_db  # noqa: F401 - fixtures shared with tests/airflow
from tests.security.figures import Figures
from tests.ui.conftest import (  # noqa: F401 - fixtures of tests/ui
    airflow_auth,
    make_client,
    secret_audience_hidden,
    store,
    tokens,
)


@pytest.fixture(scope="session")
def figures() -> Iterator[Figures]:
    collected = Figures()
    yield collected
    collected.write()


@pytest.fixture(scope="session")
def observed_runs(request, airflow_db, s3_server, boto3_s3_client, tmp_path_factory):  # noqa: F811
    """DAG runs (LocalExecutor), command lines and an engine run on the marker shop, once per session."""
    from tests.security.observed import observe

    capture = request.config.pluginmanager.getplugin("capturemanager")
    with observe(s3_server, boto3_s3_client, tmp_path_factory.mktemp("observed"), capture) as runs:
        yield runs
