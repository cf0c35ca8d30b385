"""A shop that holds bytes that are not UTF-8, and a shop that lacks a table: clear outcomes, no leak."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from sna.audience import Audience
from sna.errors import PermanentError, SourceSchemaError
from sna.exports import ExportStore
from sna.pipeline import ExportJob, ExportPipeline
from sna.registry import Registry
from sna.storage import open_storage

LATIN1_NAME = "Müllerßé".encode("latin-1")


def _pipeline(shop_url: str, tmp_path: Path) -> ExportPipeline:
    registry = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    registry.ensure_schema()
    store = ExportStore(open_storage((tmp_path / "exports").as_uri()), registry)
    return ExportPipeline(sa.create_engine(shop_url), store, project_root=tmp_path, chunk_size=400)


def _copy(demo_shop_sqlite: str, tmp_path: Path) -> tuple[str, Path]:
    path = tmp_path / "shop.db"
    shutil.copy(sa.make_url(demo_shop_sqlite).database, path)
    return f"sqlite:///{path}", path


def test_a_latin1_last_name_is_an_invalid_last_name_not_a_failed_run(demo_shop_sqlite: str, tmp_path: Path,
                                                                     caplog) -> None:
    job = ExportJob(Audience(name="bytes", platform="google", require_complete=False), date(2026, 11, 1))
    clean = _pipeline(demo_shop_sqlite, tmp_path / "clean").preview(job)
    url, path = _copy(demo_shop_sqlite, tmp_path)
    with sqlite3.connect(path) as connection:
        victim = connection.execute(
            "SELECT id_customer FROM ps_customer WHERE deleted = 0 AND active = 1 AND lastname != '' "
            "ORDER BY id_customer LIMIT 1").fetchone()[0]
        connection.execute("UPDATE ps_customer SET lastname = CAST(? AS TEXT) WHERE id_customer = ?",
                           (LATIN1_NAME, victim))

    report = _pipeline(url, tmp_path / "dirty").run(job)

    assert report.scanned == clean.scanned
    assert report.excluded.get("invalid_last_name", 0) >= clean.excluded.get("invalid_last_name", 0)
    assert report.rows + sum(report.excluded.values()) == report.scanned
    assert "Müller" not in caplog.text


def test_a_missing_orders_table_is_a_permanent_error_naming_the_table(demo_shop_sqlite: str,
                                                                      tmp_path: Path) -> None:
    url, path = _copy(demo_shop_sqlite, tmp_path)
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE ps_orders")
    job = ExportJob(Audience(name="no_orders", platform="google"), date(2026, 11, 1))

    with pytest.raises(SourceSchemaError) as raised:
        _pipeline(url, tmp_path).preview(job)

    assert isinstance(raised.value, PermanentError)
    assert "table ps_orders does not exist" in str(raised.value) and "\n" not in str(raised.value)
