"""Alerts: a failed audience run, a stale audience, sent through the Airflow notifiers of the settings.

`notifiers` in the settings (`SNA_NOTIFIERS`, JSON) names `airflow.sdk.BaseNotifier` subclasses by
import path, with keyword arguments; they are built when an alert is sent, never at parse time. A
notifier gets a context of SNA's own, `{"sna_alert": {...}}`, never Airflow's task context (whose
params or exception could carry more): the audience, the DAG id, the run id, counts and days, never
customer data. A notifier whose constructor takes `subject`, `title`, `summary`, `html_content`,
`text`, `body` or `message` and was not given it gets the alert's own words there (so
`SmtpNotifier` needs only `to`); its other arguments may use `{{ sna_alert.<field> }}` where the
notifier renders templates.
"""

from __future__ import annotations

import html
import importlib
import inspect
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import BaseNotifier

from sna.audience import ADHOC_NAMESPACE
from sna.errors import ConfigError, TransientError
from sna.settings import NotifierSpec, Settings, load_settings

if TYPE_CHECKING:
    from sna.housekeeping import StaleAudience

log = logging.getLogger(__name__)

_NAME = re.compile(r"[a-z0-9_]{1,64}")


@dataclass(frozen=True)
class Alert:
    """What a notifier is told: ids, counts and days only (safe for any channel)."""

    kind: Literal["run_failed", "stale"]
    audience: str
    dag_id: str
    run_id: str | None = None
    failed_task: str | None = None
    last_export_at: str | None = None
    """ISO 8601, UTC; None when the audience has no export yet."""
    last_export_rows: int | None = None
    days_since_export: int | None = None
    stale_after_days: int | None = None

    @property
    def subject(self) -> str:
        if self.kind == "run_failed":
            return f"SNA: audience {self.audience}: run {self.run_id} of {self.dag_id} failed"
        since = (f"{self.days_since_export} days since its last export" if self.last_export_at is not None
                 else "no export yet")
        return f"SNA: audience {self.audience} is stale: {since}"

    @property
    def text(self) -> str:
        if self.kind == "run_failed":
            task = f" (task {self.failed_task})" if self.failed_task else ""
            return (f"The run {self.run_id} of the DAG {self.dag_id} (audience {self.audience}) failed{task}. "
                    "Its task logs in Airflow say why.")
        last = (f"Its last export was made {self.last_export_at} ({self.days_since_export} days ago, "
                f"{self.last_export_rows} rows)" if self.last_export_at is not None else "It has no export yet")
        return (f"The audience {self.audience} (DAG {self.dag_id}) should be exported at least every "
                f"{self.stale_after_days} days. {last}: the file on the platform is out of date.")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "subject": self.subject, "text": self.text,
                "html": f"<p>{html.escape(self.text)}</p>"}


def failed_run_alert(context: Mapping[str, Any], audience: str | None) -> Alert:
    """The alert of a failed run from Airflow's callback context; `audience` None: an ad-hoc run,
    named by its form's `name` when the context has it."""
    dag_run = context.get("dag_run")
    dag = context.get("dag")
    dag_id = getattr(dag_run, "dag_id", None) or getattr(dag, "dag_id", "")
    ti = context.get("ti") or context.get("task_instance")
    if audience is None:
        params = context.get("params") or {}
        name = params.get("name") if isinstance(params, Mapping) else None
        audience = f"{ADHOC_NAMESPACE}/{name}" if isinstance(name, str) and _NAME.fullmatch(name) else ADHOC_NAMESPACE
    return Alert("run_failed", audience, str(dag_id), run_id=str(context.get("run_id") or "") or None,
                 failed_task=getattr(ti, "task_id", None))


def stale_alert(stale: StaleAudience, dag_id: str, now: datetime) -> Alert:
    last = stale.last_export
    return Alert("stale", stale.audience, dag_id, last_export_at=last.isoformat() if last else None,
                 last_export_rows=stale.last_rows, days_since_export=(now - last).days if last else None,
                 stale_after_days=stale.stale_after_days)


def _where(index: int) -> str:
    return f"notifiers[{index}] (SNA_NOTIFIERS)"


def notifier_class(spec: NotifierSpec, index: int = 0) -> type[BaseNotifier]:
    """The class a spec names, or a one-line ConfigError saying what is wrong with its path."""
    module_name, _, name = spec.path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"{_where(index)}: {spec.path}: module {module_name} cannot be imported "
                          f"({type(error).__name__})") from None
    found = getattr(module, name, None)
    if found is None:
        raise ConfigError(f"{_where(index)}: {spec.path}: module {module_name} has no {name}")
    if not (isinstance(found, type) and issubclass(found, BaseNotifier)):
        raise ConfigError(f"{_where(index)}: {spec.path}: not an Airflow notifier (a subclass of "
                          "airflow.sdk.BaseNotifier)")
    return found


ALERT_ARGUMENTS = {"subject": "subject", "title": "subject", "summary": "subject", "html_content": "html",
                   "text": "text", "body": "text", "message": "text"}
"""Constructor arguments a notifier gets the alert's words in, when the settings do not set them."""


def build_notifier(spec: NotifierSpec, alert: Alert, index: int = 0) -> BaseNotifier:
    cls = notifier_class(spec, index)
    accepted = inspect.signature(cls.__init__).parameters
    words = alert.to_dict()
    kwargs = {name: words[field] for name, field in ALERT_ARGUMENTS.items()
              if name in accepted and name not in spec.kwargs}
    try:
        return cls(**{**spec.kwargs, **kwargs})
    except (TypeError, ValueError) as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise ConfigError(f"{_where(index)}: {spec.path}: its arguments are refused: {first}") from None


def check_notifiers(settings: Settings) -> None:
    """Every notifier of the settings can be imported (a bad path is one line, before any alert)."""
    for index, spec in enumerate(settings.notifiers):
        notifier_class(spec, index)


class AlertNotSent(TransientError):
    """A notifier failed to send an alert (its service may be back later)."""


def send_alert(alert: Alert, specs: Sequence[NotifierSpec]) -> int:
    """Sends `alert` through every notifier; returns how many sent it. A notifier that fails does
    not stop the others; then one line names each failed notifier and its error's type (never its
    message, which may hold a webhook URL or a recipient)."""
    failed = []
    for index, spec in enumerate(specs):
        notifier = build_notifier(spec, alert, index)
        try:
            notifier({"sna_alert": alert.to_dict()})
        except Exception as error:  # noqa: BLE001 - any notifier's failure, told in one line
            failed.append(f"{spec.path} ({type(error).__name__})")
    if failed:
        raise AlertNotSent(f"alert '{alert.subject}' not sent by {', '.join(failed)}")
    return len(specs)


class FailedRunAlert(BaseNotifier):
    """The `on_failure_callback` of every audience DAG (and of `sna_adhoc_export`): tells the settings'
    notifiers that a run failed. Runs where Airflow runs DAG callbacks (the DAG processor, or the
    process of `dag.test()`); the settings are read then, so the DAG file's parse stays cheap."""

    def __init__(self, audience: str | None = None) -> None:
        super().__init__()
        self.audience = audience

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing to render (no template field); and `dag.test()` gives a DAG without a template env."""

    def notify(self, context: Any) -> None:
        alert = failed_run_alert(context, self.audience)
        try:
            specs = load_settings().notifiers
            if not specs:
                log.warning("%s (no notifier in the settings: SNA_NOTIFIERS)", alert.subject)
                return
            sent = send_alert(alert, specs)
        except (ConfigError, AlertNotSent) as error:
            log.error("%s; alert not sent: %s", alert.subject, error)
            return
        log.info("%s: told %d notifier(s)", alert.subject, sent)
