"""The broken audience files as one import error of `dags/sna_audience_errors.py` ("DAG Import Errors")."""

from __future__ import annotations

from sna_airflow.config import AudienceConfig, load_audience_config
from sna_airflow.docs import errors_doc


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
