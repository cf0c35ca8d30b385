"""Builds the SNA DAGs: one `sna_<name>` per valid audience file, plus the ad-hoc and housekeeping DAGs.

Parsing reads YAML files and nothing else (no database, no network), and builds only the DAG a
task process asks for (`get_parsing_context`). Broken audience files never stop the valid ones:
they are logged here and raised as an import error by the separate `dags/sna_audience_errors.py`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, Param, dag, get_parsing_context

from sna.audience import Audience, load_audiences
from sna.errors import AudienceFileError, ConfigError
from sna.settings import load_settings, project_root
from sna_airflow.docs import audience_doc, errors_doc
from sna_airflow.retry import retry_arguments
from sna_airflow.stages import add_export_tasks

log = logging.getLogger(__name__)

START_DATE = datetime(2024, 1, 1, tzinfo=UTC)
ADHOC_DAG_ID = "sna_adhoc_export"
HOUSEKEEPING_DAG_ID = "sna_housekeeping"


@dataclass
class AudienceConfig:
    """The audience files as Airflow sees them: the valid audiences and every problem found."""

    folder: Path | None
    audiences: list[Audience] = field(default_factory=list)
    errors: list[AudienceFileError] = field(default_factory=list)
    settings_error: ConfigError | None = None

    @property
    def problems(self) -> list[str]:
        lines = [str(self.settings_error)] if self.settings_error else []
        return lines + [str(error) for error in self.errors]


def audiences_folder() -> Path:
    """`audiences_dir` of the settings (SNA_AUDIENCES_DIR), relative to the project root."""
    root = project_root()
    folder = Path(load_settings(root).audiences_dir)
    return folder if folder.is_absolute() else root / folder


def load_audience_config() -> AudienceConfig:
    try:
        folder = audiences_folder()
    except ConfigError as error:
        return AudienceConfig(folder=None, settings_error=error)
    if not folder.is_dir():
        return AudienceConfig(folder, settings_error=ConfigError(f"{folder}: audiences folder does not exist"))
    audiences, errors = load_audiences([folder])
    return AudienceConfig(folder, audiences, errors)


def audience_asset(name: str) -> Asset:
    """The Asset a successful export of `name` updates: schedule other DAGs on it."""
    return Asset(name=f"sna_{name}", uri=f"sna://audiences/{name}", group="sna")


def run_params(audience: Audience) -> dict[str, Param]:
    """The trigger form: one-run overrides, defaulting to the YAML's values (scheduled runs use them)."""
    return {
        "dry_run": Param(False, type="boolean", title="Dry run",
                         description="Only count (scanned, exported, excluded by reason): no file, no export; "
                                     "the counts show as a dry run on Audience exports."),
        "hashing": Param(audience.hashing, type="string", enum=["none", "sha256"], title="Hashing",
                         values_display={"none": "none (platform hashes on upload)", "sha256": "SHA-256"}),
        "require_complete": Param(audience.require_complete, type="boolean", title="Require complete records",
                                  description="Export only customers with every required field."),
    }


def audience_dag(audience: Audience) -> DAG:
    @dag(
        dag_id=audience.dag_id,
        description=(audience.description or f"{audience.platform} audience {audience.name}")[:200],
        schedule=audience.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["sna", audience.platform],
        doc_md=audience_doc(audience),
        params=run_params(audience),
        default_args=retry_arguments(),
    )
    def export() -> None:
        add_export_tasks(lambda _params: audience, outlet=audience_asset(audience.name),
                         deliver=audience.delivery is not None)

    return export()


def build_dags(wanted: str | None = None) -> dict[str, DAG]:
    """Every SNA DAG by id, or only `wanted` (the parsing context's DAG) when given."""
    from sna_airflow.adhoc import adhoc_dag
    from sna_airflow.housekeeping import housekeeping_dag

    wanted = wanted if wanted is not None else get_parsing_context().dag_id
    builders: dict[str, Any] = {ADHOC_DAG_ID: adhoc_dag, HOUSEKEEPING_DAG_ID: housekeeping_dag}
    if wanted in builders:
        return {wanted: builders[wanted]()}
    dags: dict[str, DAG] = {}
    if wanted is None:
        dags = {dag_id: build() for dag_id, build in builders.items()}
    config = load_audience_config()
    for problem in config.problems:
        log.warning("SNA audience skipped: %s", problem)
    for audience in config.audiences:
        if wanted is None or wanted == audience.dag_id:
            dags[audience.dag_id] = audience_dag(audience)
    return dags


class BrokenAudienceFiles(Exception):
    """Raised at import by `dags/sna_audience_errors.py` so the UI lists the broken files."""


def raise_audience_errors(config: AudienceConfig | None = None) -> None:
    """Raises one import error naming every broken file, key and reason; does nothing when all are valid."""
    config = config or load_audience_config()
    if config.problems:
        listing = errors_doc(config.errors) if config.errors else ""
        lines = [config.problems[0]] if config.settings_error else []
        raise BrokenAudienceFiles(
            f"{len(config.problems)} problem(s) in the SNA audience configuration "
            f"({config.folder}); the valid audiences still have their DAGs:\n" + "\n".join(lines + [listing]).strip()
        )
