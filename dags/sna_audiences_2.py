"""SNA DAGs for Airflow, shard 2: the `sna_<name>` of the audience files whose name falls in shard 2
(`sna_airflow.config.shard_of`); see `sna_audiences.py`."""

from sna_airflow.dag_factory import build_dags

globals().update(build_dags(shard=2))
