"""Shows broken SNA audience files in the Airflow UI ("DAG Import Errors"): one line per file, with
its keys and reasons.

Defines no DAG that runs: an import error marks every DAG of its file stale, so the error lives in
a file of its own, and the DAGs of the valid audiences in `sna_audiences.py` keep running. The
report is a stand-in DAG whose validation fails (see `sna_airflow.audience_errors`).
"""

from sna_airflow.audience_errors import audience_errors_report

report = audience_errors_report()
