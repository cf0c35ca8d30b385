"""Shows broken SNA audience files in the Airflow UI ("DAG Import Errors"): file, key and reason.

Defines no DAG. An import error marks every DAG of its file stale, so it is raised here, in a
file of its own, and the DAGs of the valid audiences in `sna_audiences.py` keep running.
"""

from sna_airflow.audience_errors import raise_audience_errors

raise_audience_errors()
