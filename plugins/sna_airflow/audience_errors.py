"""The broken audience files as one import error of `dags/sna_audience_errors.py` ("DAG Import Errors").

Plain text, one line per broken file, its name first (relative to the audiences folder), then
each key and reason: what a person fixing YAML needs, without a traceback. Airflow records an
exception raised while a file is imported with its traceback, but one raised while a DAG of the
file is validated as `<type>: <message>` only; so the file defines a stand-in DAG whose
validation raises the report, and no DAG called `sna_audience_errors` is ever added.
"""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import DAG

from sna.audience import DAG_ID_PREFIX
from sna_airflow.config import START_DATE, AudienceConfig, load_audience_config

REPORT_DAG_ID = f"{DAG_ID_PREFIX}audience_errors"


class BrokenAudienceFiles(Exception):
    """The import error of `dags/sna_audience_errors.py`: every broken file, key and reason."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _file_name(file: str, folder: Path | None) -> str:
    path = Path(file)
    if folder is not None and path.is_relative_to(folder):
        return str(path.relative_to(folder))
    return str(path)


def problems_report(config: AudienceConfig) -> str | None:
    """The report, or None when every audience file is valid."""
    if not config.problems:
        return None
    if config.settings_error is not None:
        return (f"BrokenAudienceFiles: the SNA audience configuration cannot be read; only the built-in DAGs "
                f"are there:\n{_one_line(str(config.settings_error))}")
    by_file: dict[str, list[str]] = {}
    for error in config.errors:
        reason = _one_line(error.reason)
        by_file.setdefault(_file_name(error.file, config.folder), []).append(
            f"{error.key}: {reason}" if error.key else reason)
    count = len(by_file)
    header = (f"{count} broken audience file{'s' if count != 1 else ''} in {config.folder}; "
              "the valid audiences still have their DAGs:")
    return "\n".join([header, *(f"{name}: {'; '.join(reasons)}" for name, reasons in by_file.items())])


class AudienceErrorsReport(DAG):
    """A stand-in DAG that is never added: validating it raises the report (see the module's docstring)."""

    def validate(self) -> None:
        raise BrokenAudienceFiles(self.doc_md)


def audience_errors_report(config: AudienceConfig | None = None) -> DAG | None:
    """The stand-in DAG carrying the report, or None when every audience file is valid."""
    report = problems_report(config or load_audience_config())
    if report is None:
        return None
    return AudienceErrorsReport(dag_id=REPORT_DAG_ID, schedule=None, start_date=START_DATE, doc_md=report,
                                tags=["sna"])


def raise_audience_errors(config: AudienceConfig | None = None) -> None:
    """Raises the report (for callers outside a DAG file); does nothing when every file is valid."""
    report = problems_report(config or load_audience_config())
    if report is not None:
        raise BrokenAudienceFiles(report)
