"""The physical floors: the columns an export needs, scanned table by table (no join, no processing),
then written as CSV to the same storage.

- `scan` (the Python floor): mysqlclient's streaming cursor, Python tuples, the csv module; all
  three scans written out.
- `arrow_scan` (the Arrow-native floor): the same three scans read straight into Arrow with
  connectorx, the reader of the product (dates cast to text, as the product reads them), and one
  result file written with pyarrow's CSV writer: one row per customer (the customer scan), which
  is at least as large as any export file.
"""

from __future__ import annotations

import csv
import tempfile
import time
from pathlib import Path
from typing import Any

import MySQLdb
import MySQLdb.cursors
import pyarrow.csv as pacsv
import sqlalchemy as sa

from sna.storage import open_storage

SCANS = {
    "ps_customer": "id_customer, id_shop, id_default_group, id_gender, is_guest, deleted, active, newsletter,"
                   " optin, email, firstname, lastname, birthday, date_add",
    "ps_address": "id_address, id_customer, id_country, id_state, postcode, city, phone, phone_mobile,"
                  " active, deleted, date_upd",
    "ps_orders": "id_order, id_customer, id_address_invoice, valid, date_add, total_paid_real, conversion_rate",
}


def connect(source_url: str) -> MySQLdb.Connection:
    url = sa.make_url(source_url)
    return MySQLdb.connect(host=url.host, port=url.port or 3306, user=url.username or "root",
                           passwd=url.password or "", db=url.database, charset="utf8mb4")


def scan(source_url: str, storage_url: str, batch: int = 50_000) -> dict[str, Any]:
    storage = open_storage(storage_url)
    started = time.perf_counter()
    rows = 0
    connection = connect(source_url)
    with tempfile.TemporaryDirectory(prefix="sna-bench-floor-") as folder:
        for table, columns in SCANS.items():
            path = Path(folder) / f"{table}.csv"
            cursor = connection.cursor(MySQLdb.cursors.SSCursor)
            cursor.execute(f"SELECT {columns} FROM {table}")
            with path.open("w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                while chunk := cursor.fetchmany(batch):
                    writer.writerows(chunk)
                    rows += len(chunk)
            cursor.close()
            storage.upload_file(path, f"floor/{table}.csv")
    connection.close()
    return {"seconds": round(time.perf_counter() - started, 3), "rows_read": rows}


ARROW_SCANS = {
    "ps_customer": "id_customer, id_shop, id_default_group, id_gender, is_guest, deleted, active, newsletter,"
                   " optin, email, firstname, lastname, CAST(birthday AS CHAR) AS birthday,"
                   " CAST(date_add AS CHAR) AS date_add",
    "ps_address": "id_address, id_customer, id_country, id_state, postcode, city, phone, phone_mobile,"
                  " active, deleted, CAST(date_upd AS CHAR) AS date_upd",
    "ps_orders": "id_order, id_customer, id_address_invoice, valid, CAST(date_add AS CHAR) AS date_add,"
                 " total_paid_real, conversion_rate",
}


def arrow_scan(source_url: str, storage_url: str) -> dict[str, Any]:
    import connectorx

    url = sa.make_url(source_url)
    cx_url = f"mysql://{url.username or 'root'}{':' + url.password if url.password else ''}@{url.host}:" \
             f"{url.port or 3306}/{url.database}"
    storage = open_storage(storage_url)
    started = time.perf_counter()
    tables = {name: connectorx.read_sql(cx_url, f"SELECT {columns} FROM {name}", return_type="arrow")
              for name, columns in ARROW_SCANS.items()}
    read_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="sna-bench-arrow-floor-") as folder:
        path = Path(folder) / "result.csv"
        pacsv.write_csv(tables["ps_customer"], path)
        storage.upload_file(path, "floor/arrow_result.csv")
    return {"seconds": round(time.perf_counter() - started, 3), "read_seconds": round(read_seconds, 3),
            "rows_read": sum(t.num_rows for t in tables.values())}
