"""The demo: real Airflow DAG runs, end to end, on the embedded default locations.

Needs nothing but the virtualenv: Airflow's metadata DB is a SQLite file under var/airflow, the
shop is a demo shop in var/demo_shop.db (written on first use), the exports go to var/exports and
their entries to var/registry.db. Runs `dag.test()` of one audience DAG (the task code and the
engine are exactly those of production) and prints where the file is and why customers were left out,
for a Google audience and a Meta audience by default.

    .venv/bin/python scripts/demo.py [--dag sna_vip_google --dag ...] [--customers 5000] [--verbose]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var"


def configure_airflow(verbose: bool) -> None:
    """Airflow reads its home and metadata DB once, at import: set them first."""
    home = VAR / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO" if verbose else "WARNING",
    })
    sys.path[:0] = [str(ROOT / "plugins")]
    # third-party deprecation notices (re-emitted by the DAG parser as UserWarning) are not the demo's business
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*(GitWildMatchPattern|httpx).*")


def ensure_demo_shop(customers: int) -> None:
    from sna.settings import embedded_locations, resolve_locations

    shop = resolve_locations(root=ROOT).source_url
    if shop != embedded_locations(ROOT).source_url or (VAR / "demo_shop.db").exists():
        return
    from sna_demo import write_demo_shop

    print(f"writing a demo shop with {customers} customers to {VAR / 'demo_shop.db'} ...", flush=True)
    print(f"demo shop written: {write_demo_shop(shop, customers=customers).describe()}")


def return_values(dag_run) -> dict[str, object]:
    """The tasks' return values (counts and references only) from Airflow's metadata DB."""
    from airflow.models.xcom import XComModel
    from airflow.settings import Session

    with Session() as session:
        query = XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, key="return_value")
        return {row.task_id: XComModel.deserialize_value(row) for row in session.scalars(query)}


def print_summary(dag_run, results: dict[str, object]) -> None:
    report = results.get("record") or results.get("join") or {}
    print(f"\nDAG run {dag_run.dag_id} / {dag_run.run_id}: {dag_run.state}")
    if report.get("file"):
        print(f"file:    {report['file']}")
        print(f"export:  {report['export_id']} ({report['platform']}, hashing {report['hashing']})")
    exported = report.get("rows", report.get("exported"))
    print(f"rows:    {exported} exported of {report.get('scanned')} customers scanned")
    excluded = report.get("excluded") or {}
    if excluded:
        print("excluded:")
        width = max(map(len, excluded))
        for reason, count in sorted(excluded.items(), key=lambda item: (-item[1], item[0])):
            print(f"  {reason:<{width}}  {count}")
    for warning in report.get("warnings") or []:
        print(f"warning: {warning}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dag", action="append", dest="dags", metavar="DAG_ID",
                        help="a DAG to run (repeatable; default: sna_vip_google and sna_newsletter_meta)")
    parser.add_argument("--customers", type=int, default=5000, help="size of the demo shop, if it is created")
    parser.add_argument("--verbose", action="store_true", help="show Airflow's task logs")
    args = parser.parse_args()

    configure_airflow(args.verbose)
    ensure_demo_shop(args.customers)

    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.db import initdb

    started = time.monotonic()
    initdb()
    bag = DagBag(dag_folder=str(ROOT / "dags"), bundle_path=ROOT / "dags")
    for file, error in bag.import_errors.items():
        print(f"import error in {file}:\n{error}", file=sys.stderr)
    dag_ids = args.dags or ["sna_vip_google", "sna_newsletter_meta"]
    missing = [dag_id for dag_id in dag_ids if dag_id not in bag.dags]
    if missing:
        print(f"no DAG {', '.join(missing)}; available: {', '.join(sorted(bag.dags))}", file=sys.stderr)
        return 1
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    failed = 0
    for dag_id in dag_ids:
        print(f"\nrunning {dag_id} for {today.date()} (a real Airflow DAG run, in this process) ...", flush=True)
        dag_run = bag.dags[dag_id].test(logical_date=today)
        print_summary(dag_run, return_values(dag_run))
        failed += dag_run.state != "success"
    print(f"\n({time.monotonic() - started:.1f} s; list the exports with `.venv/bin/sna exports list`)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
