"""SNA DAGs for Airflow, shard 0: `sna_adhoc_export`, `sna_housekeeping` and the `sna_<name>` of the
audience files whose name falls in shard 0; `sna_audiences_<k>.py` hold the other shards.

Thin on purpose: everything is built by `sna_airflow.dag_factory` (plugins folder) from
`config/audiences/*.yaml`; broken audience files are reported by `sna_audience_errors.py`.
"""

from sna_airflow.dag_factory import build_dags

globals().update(build_dags(shard=0))
