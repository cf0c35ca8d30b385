"""`sna_<name>`: the DAG of one audience file, its trigger form and the Asset it updates.

The DAG file builds one such DAG per audience file (thousands in one parse), so the trigger form is
built cheaply: its schemas are shared and checked once per distinct form (see `run_params`).
"""

from __future__ import annotations

from functools import cache
from typing import Any, NoReturn

from airflow.sdk import DAG, Asset, Param
from airflow.sdk.definitions.param import ParamsDict

from sna.audience import Audience
from sna_airflow.alerts import FailedRunAlert
from sna_airflow.config import DAG_ID_PREFIX, START_DATE
from sna_airflow.docs import audience_doc
from sna_airflow.retry import retry_arguments
from sna_airflow.stages import add_export_tasks


def audience_asset(name: str) -> Asset:
    """The Asset a successful export of `name` updates: schedule other DAGs on it."""
    return Asset(name=f"{DAG_ID_PREFIX}{name}", uri=f"sna://audiences/{name}", group="sna")


class SharedSchema(dict):
    """A Param's JSON schema that every copy of the Param shares. Airflow deep-copies a DAG's params
    into each of its tasks, four times a task (once per operator class), and never changes a schema
    (its own `Param.__copy__` shares it): copying it only cost time. Read-only, as it is shared."""

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedSchema:
        return self

    def __copy__(self) -> SharedSchema:
        return self

    def __reduce__(self) -> tuple[type, tuple[dict[str, Any]]]:
        return dict, (dict(self),)

    def _read_only(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a shared Param schema is read-only")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _read_only  # type: ignore[assignment]


@cache
def _form(hashing: str, require_complete: bool) -> tuple[tuple[str, Any, str | None, SharedSchema], ...]:
    """The form's (name, default, description, schema), checked by Airflow once per distinct form:
    `ParamsDict.validate` checks each schema against the JSON Schema metaschema, about 2 ms a
    form, which Airflow would otherwise pay again for every scheduled DAG it creates."""
    params = {
        "dry_run": Param(False, type=["boolean", "null"], title="Dry run",
                         description="Only count (scanned, exported, excluded by reason): no file, no entry."),
        "hashing": Param(hashing, type=["string", "null"], enum=["none", "sha256", None], title="Hashing",
                         values_display={"none": "none (platform hashes on upload)", "sha256": "SHA-256",
                                         "null": f"as in the audience file ({hashing})"}),
        "require_complete": Param(require_complete, type=["boolean", "null"], title="Require complete records",
                                  description="Export only customers with every required field."),
    }
    ParamsDict(params).validate()
    return tuple((name, p.value, p.description, SharedSchema(p.schema)) for name, p in params.items())


def run_params(audience: Audience) -> dict[str, Param]:
    """The trigger form: one-run overrides, defaulting to the YAML's values (scheduled runs use them).
    Each can be cleared (null): the run then uses the audience file's value."""
    return {name: Param(default, description, schema=schema)
            for name, default, description, schema in _form(audience.hashing, audience.require_complete)}


def audience_dag(audience: Audience) -> DAG:
    with DAG(
        dag_id=audience.dag_id,
        description=(audience.description or f"{audience.platform} audience {audience.name}")[:200],
        schedule=audience.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["sna", audience.platform],
        doc_md=audience_doc(audience),
        default_args=retry_arguments(),
        on_failure_callback=FailedRunAlert(audience.name),
    ) as export:
        export.params.update(run_params(audience))  # after DAG(), which would check them again; before the tasks copy them
        add_export_tasks(lambda _params: audience, outlet=audience_asset(audience.name),
                         deliver=audience.delivery is not None)
    return export
