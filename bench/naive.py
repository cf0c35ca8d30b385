"""BASELINE ONLY (not used by the product): the naive way to write this exporter, for comparison.

One SQL query with correlated sub-queries per customer, loaded whole into one DataFrame,
normalized row by row in Python (`DataFrame.apply`, `phonenumbers` per number), written with
`to_csv` and uploaded to the same storage.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import phonenumbers
import sqlalchemy as sa

from sna.storage import open_storage

QUERY = """
SELECT t.*, a.postcode, a.city, a.phone, a.phone_mobile, co.iso_code AS country
FROM (
  SELECT c.id_customer, c.email, c.firstname, c.lastname, c.deleted, c.active, c.is_guest, c.id_gender,
         CAST(c.birthday AS CHAR) AS birthday, CAST(c.date_add AS CHAR) AS date_add,
         COALESCE(
           (SELECT a.id_address FROM ps_address a
             WHERE a.id_customer = c.id_customer AND a.deleted = 0 AND a.active = 1
             ORDER BY a.date_upd DESC, a.id_address DESC LIMIT 1),
           (SELECT o.id_address_invoice FROM ps_orders o WHERE o.id_customer = c.id_customer
             ORDER BY o.valid DESC, o.date_add DESC, o.id_order DESC LIMIT 1)) AS id_address,
         (SELECT COUNT(*) FROM ps_orders o WHERE o.id_customer = c.id_customer AND o.valid = 1) AS valid_orders,
         (SELECT CAST(MAX(o.date_add) AS CHAR) FROM ps_orders o
           WHERE o.id_customer = c.id_customer AND o.valid = 1) AS last_order,
         (SELECT SUM(o.total_paid_real / NULLIF(o.conversion_rate, 0)) FROM ps_orders o
           WHERE o.id_customer = c.id_customer AND o.valid = 1) AS total_spent
  FROM ps_customer c
) t
LEFT JOIN ps_address a ON a.id_address = t.id_address
LEFT JOIN ps_country co ON co.id_country = a.id_country
ORDER BY t.id_customer
"""


def _phone(raw: Any, region: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        return ""
    try:
        number = phonenumbers.parse(raw, region if isinstance(region, str) else None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _text(value: Any) -> str:
    return value.strip().lower() if isinstance(value, str) else ""


def google_row(row: pd.Series) -> pd.Series:
    phone = _phone(row["phone_mobile"], row["country"]) or _phone(row["phone"], row["country"])
    return pd.Series({"Email": _text(row["email"]), "Phone": phone, "First Name": _text(row["firstname"]),
                      "Last Name": _text(row["lastname"]), "Country": _text(row["country"]).upper(),
                      "Zip": _text(row["postcode"]).upper()})


def meta_row(row: pd.Series) -> pd.Series:
    phone = _phone(row["phone_mobile"], row["country"]) or _phone(row["phone"], row["country"])
    birthday = row["birthday"] if isinstance(row["birthday"], str) else ""
    try:
        born = dt.date.fromisoformat(birthday)
        dob, doby = born.strftime("%Y%m%d"), str(born.year)
    except ValueError:
        dob, doby = "", ""
    gender = {1: "m", 2: "f"}.get(row["id_gender"], "")
    return pd.Series({"email": _text(row["email"]), "phone": phone.removeprefix("+"),
                      "fn": "".join(ch for ch in _text(row["firstname"]) if ch.isalpha()),
                      "ln": "".join(ch for ch in _text(row["lastname"]) if ch.isalpha()),
                      "zip": _text(row["postcode"]).replace(" ", ""),
                      "ct": "".join(ch for ch in _text(row["city"]) if ch.isalpha()),
                      "country": _text(row["country"]), "dob": dob, "doby": doby, "gen": gender,
                      "value": f"{float(row['total_spent'] or 0):.2f}"})


def run(source_url: str, storage_url: str, platform: str) -> dict[str, Any]:
    storage = open_storage(storage_url)
    engine = sa.create_engine(source_url)
    started = time.perf_counter()
    frame = pd.read_sql(sa.text(QUERY), engine)
    read_seconds = time.perf_counter() - started
    frame = frame[(frame["deleted"] == 0) & (frame["active"] == 1)]
    rows = frame.apply(google_row if platform == "google" else meta_row, axis=1)
    email = rows.columns[0]
    rows = rows[(rows[email] != "") | (rows[rows.columns[1]] != "")]
    rows = pd.concat([rows[rows[email] == ""], rows[rows[email] != ""].drop_duplicates(subset=[email])])
    with tempfile.TemporaryDirectory(prefix="sna-bench-naive-") as folder:
        path = Path(folder) / "naive.csv"
        rows.to_csv(path, index=False)
        storage.upload_file(path, f"naive/{platform}.csv")
    engine.dispose()
    return {"seconds": round(time.perf_counter() - started, 3), "read_seconds": round(read_seconds, 3),
            "rows": len(rows)}
