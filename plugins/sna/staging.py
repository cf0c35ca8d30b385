"""Intermediate data of a run: Parquet files under the storage's staging prefix.

Stages hand data to each other through these files (never through XCom); each file is written
chunk by chunk (one row group per chunk) and read back the same way, so memory stays flat.
Staging holds customer data: it lives only for the duration of a run and is deleted after success
(and by housekeeping after a failure).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sna.storage import Storage, WrittenObject

STAGING_ROOT = "_staging"


def _arrow_type(dtype: Any) -> pa.DataType:
    if pd.api.types.is_bool_dtype(dtype):
        return pa.bool_()
    if pd.api.types.is_integer_dtype(dtype):
        return pa.uint64() if str(dtype) == "uint64" else pa.int64()
    if pd.api.types.is_float_dtype(dtype):
        return pa.float64()
    return pa.string()


class FrameWriter:
    """Appends DataFrame chunks to one local Parquet file with a schema fixed by the first chunk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def write(self, frame: pd.DataFrame) -> None:
        if self._schema is None:
            self._schema = pa.schema([(str(name), _arrow_type(frame[name].dtype)) for name in frame.columns])
            self._writer = pq.ParquetWriter(self.path, self._schema, compression="snappy")
        table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False, safe=False)
        self._writer.write_table(table)
        self.rows += len(frame)

    def close(self, empty_like: pd.DataFrame) -> None:
        if self._writer is None:
            self.write(empty_like)
        self._writer.close()


def read_frames(path: Path, columns: list[str] | None = None, batch_rows: int = 50_000) -> Iterator[pd.DataFrame]:
    parquet = pq.ParquetFile(path)
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
        yield batch.to_pandas()


class Staging:
    """The staging area of one run: `_staging/<audience>/<reference date>/` in the run's storage."""

    def __init__(self, storage: Storage, run_prefix: str, tmp_dir: str | None = None) -> None:
        self.storage = storage
        self.prefix = f"{STAGING_ROOT}/{run_prefix}"
        self.tmp_dir = tmp_dir

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def uri(self, name: str) -> str:
        return self.storage.uri(self.key(name))

    @contextmanager
    def local_dir(self) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="sna-", dir=self.tmp_dir) as folder:
            yield Path(folder)

    def put(self, local: Path, name: str) -> WrittenObject:
        return self.storage.upload_file(local, self.key(name))

    def get(self, name: str, local: Path) -> Path:
        self.storage.download_file(self.key(name), local)
        return local

    def put_json(self, name: str, document: dict[str, Any]) -> None:
        with self.storage.open_writer(self.key(name)) as out:
            out.write(json.dumps(document, sort_keys=True).encode("utf-8"))

    def get_json(self, name: str) -> dict[str, Any]:
        with self.storage.open_reader(self.key(name)) as stream:
            return json.loads(stream.read().decode("utf-8"))

    def exists(self, name: str) -> bool:
        return self.storage.exists(self.key(name))

    def clear(self) -> int:
        return self.storage.delete_prefix(self.prefix + "/")
