"""SNA DAGs for Airflow: `sna_<name>` for every valid audience file, `sna_adhoc_export`, `sna_housekeeping`.

Thin on purpose: everything is built by `sna_airflow.dag_factory` (plugins folder) from
`config/audiences/*.yaml`; broken audience files are reported by `sna_audience_errors.py`.
"""

from sna_airflow.dag_factory import build_dags

globals().update(build_dags())
