"""Builds the SNA DAGs: one `sna_<name>` per valid audience file, plus the ad-hoc and housekeeping DAGs.

The audience DAGs are spread over `AUDIENCE_SHARDS` DAG files by a hash of their name (`shard_of`);
the built-in DAGs live in shard 0 (`dags/sna_audiences.py`). Every file reads every audience file
(about a quarter of a millisecond each): duplicates and problems are found as with a single file.

Parsing reads YAML files and nothing else (no database, no network), and builds only the DAG a
task process asks for (`get_parsing_context`). Broken audience files never stop the valid ones:
they are skipped here and raised as an import error by the separate `dags/sna_audience_errors.py`.

The top layer: it imports the builders (`adhoc`, `housekeeping`, `audience_dag`), which import
`config` and the task modules; nothing imports this module but the DAG files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from airflow.sdk import DAG, get_parsing_context

from sna_airflow.adhoc import adhoc_dag
from sna_airflow.audience_dag import audience_dag
from sna_airflow.config import ADHOC_DAG_ID, HOUSEKEEPING_DAG_ID, load_audience_config, shard_of
from sna_airflow.housekeeping import housekeeping_dag

log = logging.getLogger(__name__)

BUILT_IN: dict[str, Callable[[], DAG]] = {ADHOC_DAG_ID: adhoc_dag, HOUSEKEEPING_DAG_ID: housekeeping_dag}


def build_dags(wanted: str | None = None, shard: int | None = None) -> dict[str, DAG]:
    """Every SNA DAG of DAG file `shard` (None: of every file) by id, or only `wanted` (the parsing
    context's DAG) when given."""
    wanted = wanted if wanted is not None else get_parsing_context().dag_id
    built_in = shard in (None, 0)
    if wanted in BUILT_IN:
        return {wanted: BUILT_IN[wanted]()} if built_in else {}
    dags: dict[str, DAG] = {}
    if wanted is None and built_in:
        dags = {dag_id: build() for dag_id, build in BUILT_IN.items()}
    config = load_audience_config()
    if wanted is None and built_in:  # the DAG processor, once; a task process must not log other files' problems
        for problem in config.problems:
            log.info("SNA audience skipped: %s", problem)
    for audience in config.audiences:
        if (wanted is None or wanted == audience.dag_id) and (shard is None or shard_of(audience.name) == shard):
            dags[audience.dag_id] = audience_dag(audience)
    return dags
