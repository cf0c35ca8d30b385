"""`assemble.assemble` for the Arrow reader: the same raw customer frame, computed on columns.

The rules are those of `assemble.py` (prestashop-source.md), applied to Arrow tables that the scans
deliver already ranked (addresses by `id_customer, date_upd DESC, id_address DESC`; orders by
`id_customer, valid DESC, date_add DESC, id_order DESC`): choosing a row is finding the first row
of each customer with numpy on the sorted key column, and every output column is one `take` of its
source column, where `assemble.py` filters, de-duplicates and re-indexes whole pandas frames of
Python objects. The reductions whose floating-point result depends on how they are computed (the
total paid) and the dictionary look-ups use the same pandas calls as `assemble.py`, so the frames
are equal value for value: `tests/sna/source/test_arrow_reader.py` compares both readers on the
same shops, chunk for chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sna.source.arrow import ArrowReadError
from sna.source.assemble import RAW_COLUMNS, ShopReference, typed

ArrowLookup = Callable[[Sequence[int]], pa.Table]


def _ints(table: pa.Table, name: str) -> np.ndarray:
    """An int64 column as float64 (NaN where NULL), like `pd.to_numeric` of the object column."""
    return table.column(name).to_numpy(zero_copy_only=False).astype("float64", copy=False)


def _equals(table: pa.Table, name: str, value: int) -> np.ndarray:
    """`column == value`, False where NULL."""
    return pc.fill_null(pc.equal(table.column(name), value), False).to_numpy(zero_copy_only=False)


def _keys(table: pa.Table) -> np.ndarray:
    """The sorted customer ids of a scan (first column, NOT NULL)."""
    keys = table.column(0).to_numpy(zero_copy_only=False)
    if len(keys) > 1 and (np.isnan(keys).any() if keys.dtype.kind == "f" else bool((np.diff(keys) < 0).any())):
        raise ArrowReadError(f"the {table.column_names[0]} column of a scan is not sorted or holds NULL")
    return keys.astype("int64", copy=False)


def _first_rows(keys: np.ndarray, rows: np.ndarray, last: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """For sorted `keys[rows]`: the distinct keys and, per key, its first (or last) row."""
    selected = keys[rows]
    if not len(selected):
        return selected, rows
    if last:
        edge = np.r_[selected[1:] != selected[:-1], True]
    else:
        edge = np.r_[True, selected[1:] != selected[:-1]]
    return selected[edge], rows[edge]


def _lookup(keys: np.ndarray, rows: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The row of each wanted key (distinct sorted `keys`), -1 where it has none."""
    if not len(keys):
        return np.full(len(wanted), -1, dtype=np.int64)
    position = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[position] == wanted, rows[position], -1)


def _take(column: pa.ChunkedArray | pa.Array, rows: np.ndarray) -> pd.Series:
    """`column[rows]` as a pandas column, missing where the row is -1."""
    indices = pa.array(rows, type=pa.int64(), mask=rows < 0)
    return column.take(indices).to_pandas()


def _numbers(column: pa.ChunkedArray | pa.Array, rows: np.ndarray) -> np.ndarray:
    """An int64 column at `rows` as float64, NaN where NULL or where the row is -1."""
    values = column.to_numpy(zero_copy_only=False).astype("float64", copy=False)
    return np.where(rows >= 0, values[np.maximum(rows, 0)], np.nan) if len(values) else np.full(len(rows), np.nan)


def assemble_arrow(customers: pa.Table, addresses: pa.Table, orders: pa.Table, reference: ShopReference,
                   lookup_addresses: ArrowLookup) -> pd.DataFrame:
    """The raw customer frame of one chunk, equal to `assemble.assemble` on the same rows.

    The tables are `arrow.normalize`d scans (customers, their addresses, their orders);
    `lookup_addresses(ids)` reads addresses by id (normalized the same way) for the rare chosen
    address that is not among the chunk's own."""
    ids = _keys(customers)
    index = pd.RangeIndex(len(ids))

    # The newest live address of each customer, else the invoice address of its latest order.
    address_keys = _keys(addresses)
    live = np.flatnonzero(_equals(addresses, "deleted", 0) & _equals(addresses, "active", 1))
    live_keys, live_rows = _first_rows(address_keys, live)
    address_ids = _ints(addresses, "id_address")
    live_row = _lookup(live_keys, live_rows, ids)
    chosen = np.where(live_row >= 0, address_ids[np.maximum(live_row, 0)] if len(address_ids) else np.nan, np.nan)
    order_keys = _keys(orders)
    first_keys, first_rows = _first_rows(order_keys, np.arange(len(order_keys)))
    invoice_row = _lookup(first_keys, first_rows, ids)
    invoices = _numbers(orders.column("id_address_invoice"), invoice_row)
    chosen = np.where(np.isnan(chosen), invoices, chosen)

    # The chosen address row: among the chunk's addresses (first row of an id), else looked up.
    pool = addresses.drop_columns(["id_customer"])
    wanted = ~np.isnan(chosen)
    distinct, first = np.unique(address_ids, return_index=True) if len(address_ids) else (address_ids, address_ids)
    chosen_ids = np.where(wanted, chosen, -1).astype("int64")
    row = np.where(wanted, _lookup(distinct.astype("int64"), first.astype("int64"), chosen_ids), -1)
    unknown = sorted({int(i) for i in chosen_ids[wanted & (row < 0)]})
    if unknown:
        extra = lookup_addresses(unknown).drop_columns(["id_customer"])
        extra_ids = _ints(extra, "id_address")
        if len(extra_ids):
            pool = pa.concat_tables([pool, extra.cast(pool.schema)])
            distinct, first = np.unique(_ints(pool, "id_address"), return_index=True)
            row = np.where(wanted, _lookup(distinct.astype("int64"), first.astype("int64"), chosen_ids), -1)
    found = row >= 0
    if found.any():
        found[found] = pc.is_valid(pool.column("date_upd").take(pa.array(row[found]))).to_numpy(
            zero_copy_only=False)

    # Order facts over valid orders: count, first and last date, total paid (pandas' sum, as assemble).
    valid = np.flatnonzero(_equals(orders, "valid", 1))
    valid_keys = order_keys[valid]
    amounts = orders.column("amount").to_numpy(zero_copy_only=False).astype("float64", copy=False)
    grouped = pd.Series(amounts[valid]).groupby(valid_keys)
    counts = grouped.size().reindex(ids)
    total = grouped.sum().reindex(ids)
    last_keys, last_rows = _first_rows(order_keys, valid)
    earliest_keys, earliest_rows = _first_rows(order_keys, valid, last=True)

    country_ids = pd.Series(_numbers(pool.column("id_country"), row), index=index)
    state_ids = pd.Series(_numbers(pool.column("id_state"), row), index=index)
    gender_ids = pd.Series(_ints(customers, "id_gender"), index=index)

    def customer(name: str) -> pd.Series:
        return customers.column(name).to_pandas()

    def address(name: str) -> pd.Series:
        return _take(pool.column(name), row)

    frame = pd.DataFrame({
        "id_customer": ids,
        **{name: customer(name) for name in ("id_shop", "id_default_group", "is_guest", "deleted", "active",
                                             "newsletter", "optin", "email", "firstname", "lastname",
                                             "birthday")},
        "gender_type": gender_ids.where(gender_ids > 0).map(reference.genders),
        "date_add": customer("date_add"),
        "id_address": np.where(found, chosen, np.nan),
        **{name: address(name) for name in ("postcode", "city", "phone", "phone_mobile")},
        "country": country_ids.map(reference.country_codes),
        "zip_code_format": country_ids.map(reference.zip_formats),
        "state": state_ids.where(state_ids > 0).map(reference.states),
        "valid_orders": counts.to_numpy(),
        "first_order": _take(orders.column("date_add"), _lookup(earliest_keys, earliest_rows, ids)),
        "last_order": _take(orders.column("date_add"), _lookup(last_keys, last_rows, ids)),
        "total_spent": total.fillna(0.0).to_numpy(),
        "in_groups_any": 1 if reference.group_members is None else np.isin(ids, reference.group_members),
        "id_subscriber": 0,
    }, index=index)
    return typed(frame[list(RAW_COLUMNS)])
