"""One raw customer row per customer, from the rows of three scans (pure pandas, no database).

The rules of docs/prestashop-source.md, applied to one chunk of customers and the addresses and
orders of those customers, which the scans deliver already ranked by the database (addresses by
`id_customer, date_upd DESC, id_address DESC`; orders by `id_customer, valid DESC, date_add DESC,
id_order DESC`), so that choosing is keeping the first row of each customer:
- address: the newest with `deleted = 0 AND active = 1` (`date_upd DESC, id_address DESC`), else
  the invoice address of the latest order (valid orders first), even if soft-deleted, else none;
- order facts over valid orders: count, first and last date, total paid in the default currency.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

CUSTOMER_COLUMNS = (
    "id_customer", "id_shop", "id_gender", "id_default_group", "is_guest", "deleted", "active", "newsletter",
    "optin", "email", "firstname", "lastname", "birthday", "date_add",
)
ADDRESS_COLUMNS = (
    "id_customer", "id_address", "id_country", "id_state", "postcode", "city", "phone", "phone_mobile",
    "active", "deleted", "date_upd",
)
ORDER_COLUMNS = ("id_customer", "id_order", "valid", "date_add", "id_address_invoice", "amount")
SUBSCRIBER_COLUMNS = ("id", "id_shop", "email", "newsletter_date_add")

RAW_COLUMNS = (
    "id_customer", "id_shop", "id_default_group", "is_guest", "deleted", "active", "newsletter", "optin",
    "email", "firstname", "lastname", "birthday", "gender_type", "date_add",
    "id_address", "postcode", "city", "phone", "phone_mobile", "country", "zip_code_format", "state",
    "valid_orders", "first_order", "last_order", "total_spent", "in_groups_any", "id_subscriber",
)
"""`id_subscriber` is 0 on a customer's row; a newsletter-only subscriber's row (`subscriber_rows`)
carries its `ps_emailsubscription.id` there and `id_customer` 0."""
INT_COLUMNS = ("id_customer", "id_shop", "id_default_group", "is_guest", "deleted", "active", "newsletter",
               "optin", "valid_orders", "in_groups_any", "id_subscriber")
FLOAT_COLUMNS = ("gender_type", "id_address", "total_spent")
STR_COLUMNS = tuple(name for name in RAW_COLUMNS if name not in INT_COLUMNS + FLOAT_COLUMNS)

AddressLookup = Callable[[Sequence[int]], Sequence[tuple]]


@dataclass(frozen=True)
class ShopReference:
    """The small tables, read once per extraction."""

    country_codes: dict[int, str]  # id_country -> iso_code
    zip_formats: dict[int, str]  # id_country -> zip_code_format
    states: dict[int, str]  # id_state -> iso_code
    genders: dict[int, float]  # id_gender -> ps_gender.type
    group_members: np.ndarray | None  # customers in at least one `groups_any` group; None = no filter


def _frame(rows: Sequence[tuple], columns: Sequence[str]) -> pd.DataFrame:
    """Rows as object columns: no type inference here (5x faster); `typed` converts the result once."""
    if not rows:
        return pd.DataFrame({name: pd.Series(dtype="object") for name in columns})
    return pd.DataFrame(np.array(rows, dtype=object), columns=list(columns), dtype=object, copy=False)


def _numeric(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce")


def _live_address_ids(addresses: pd.DataFrame) -> pd.Series:
    """id_customer -> the newest active, non-deleted address (rows come newest first per customer)."""
    live = addresses[(_numeric(addresses["deleted"]) == 0) & (_numeric(addresses["active"]) == 1)]
    return live.drop_duplicates("id_customer").set_index("id_customer")["id_address"]


def _last_invoice_ids(orders: pd.DataFrame) -> pd.Series:
    """id_customer -> invoice address of the latest order (rows come valid first, newest first)."""
    return orders.drop_duplicates("id_customer").set_index("id_customer")["id_address_invoice"]


def _order_facts(orders: pd.DataFrame) -> pd.DataFrame:
    """Per customer over valid orders: count, first and last order date, total paid."""
    valid = orders[_numeric(orders["valid"]) == 1]
    customers = valid["id_customer"]
    return pd.DataFrame({
        "valid_orders": customers.value_counts(),
        "first_order": valid.drop_duplicates("id_customer", keep="last").set_index("id_customer")["date_add"],
        "last_order": valid.drop_duplicates("id_customer", keep="first").set_index("id_customer")["date_add"],
        "total_spent": _numeric(valid["amount"]).astype("float64").groupby(customers).sum(),
    })


def assemble(
    customer_rows: Sequence[tuple],
    address_rows: Sequence[tuple],
    order_rows: Sequence[tuple],
    reference: ShopReference,
    lookup_addresses: AddressLookup,
) -> pd.DataFrame:
    """The raw customer frame of one chunk (columns `RAW_COLUMNS`, stable dtypes).

    `lookup_addresses(ids)` reads addresses by id for the rare invoice address that is not among
    the customer's own (it belongs to nobody or to another account).
    """
    customers = _frame(customer_rows, CUSTOMER_COLUMNS)
    addresses = _frame(address_rows, ADDRESS_COLUMNS)
    orders = _frame(order_rows, ORDER_COLUMNS)
    ids = _numeric(customers["id_customer"]).astype("int64")
    addresses["id_customer"] = _numeric(addresses["id_customer"])
    orders["id_customer"] = _numeric(orders["id_customer"])

    chosen = ids.map(_live_address_ids(addresses)).astype("float64")
    chosen = chosen.fillna(ids.map(_last_invoice_ids(orders)).astype("float64"))
    by_id = addresses.drop(columns="id_customer").drop_duplicates("id_address").set_index("id_address")
    wanted = chosen.dropna()
    unknown = sorted({int(i) for i in wanted[~wanted.isin(by_id.index)]})
    if unknown:
        extra = _frame(lookup_addresses(unknown), ADDRESS_COLUMNS).drop(columns="id_customer")
        by_id = pd.concat([by_id, extra.set_index("id_address")])
    address = by_id.reindex(chosen.to_numpy())
    address.index = customers.index
    found = address["date_upd"].notna()  # NOT NULL in the table: NA means no such address

    facts = _order_facts(orders).reindex(ids.to_numpy())
    facts.index = customers.index
    country_ids = _numeric(address["id_country"])
    state_ids = _numeric(address["id_state"])
    gender_ids = _numeric(customers["id_gender"])

    frame = pd.DataFrame({
        "id_customer": ids,
        "id_shop": customers["id_shop"],
        "id_default_group": customers["id_default_group"],
        "is_guest": customers["is_guest"],
        "deleted": customers["deleted"],
        "active": customers["active"],
        "newsletter": customers["newsletter"],
        "optin": customers["optin"],
        "email": customers["email"],
        "firstname": customers["firstname"],
        "lastname": customers["lastname"],
        "birthday": customers["birthday"],
        "gender_type": gender_ids.where(gender_ids > 0).map(reference.genders),
        "date_add": customers["date_add"],
        "id_address": chosen.where(found),
        "postcode": address["postcode"],
        "city": address["city"],
        "phone": address["phone"],
        "phone_mobile": address["phone_mobile"],
        "country": country_ids.map(reference.country_codes),
        "zip_code_format": country_ids.map(reference.zip_formats),
        "state": state_ids.where(state_ids > 0).map(reference.states),
        "valid_orders": facts["valid_orders"],
        "first_order": facts["first_order"],
        "last_order": facts["last_order"],
        "total_spent": facts["total_spent"].fillna(0.0),
        "in_groups_any": 1 if reference.group_members is None else np.isin(ids, reference.group_members),
        "id_subscriber": 0,
    })
    return typed(frame)


def subscriber_rows(subscribers: pd.DataFrame, reference: ShopReference) -> pd.DataFrame:
    """Raw rows of newsletter-only subscribers (columns `SUBSCRIBER_COLUMNS`, any dtypes).

    A subscriber is an e-mail and a shop: no account (`id_customer` 0), no name, address or order;
    the newsletter consent is given (only confirmed subscriptions are read), the partner opt-in not;
    the subscription date stands for the account's creation date. Both readers build their rows here.
    """
    count = len(subscribers)
    index = pd.RangeIndex(count)
    missing = pd.Series([None] * count, index=index, dtype=object)
    frame = pd.DataFrame({name: missing for name in RAW_COLUMNS}, index=index)
    frame["id_customer"] = 0
    frame["id_shop"] = subscribers["id_shop"].to_numpy()
    frame["id_default_group"] = 0
    frame["is_guest"] = 0
    frame["deleted"] = 0
    frame["active"] = 1
    frame["newsletter"] = 1
    frame["optin"] = 0
    frame["email"] = subscribers["email"].to_numpy()
    frame["date_add"] = subscribers["newsletter_date_add"].to_numpy()
    frame["valid_orders"] = 0
    frame["total_spent"] = 0.0
    frame["in_groups_any"] = 1 if reference.group_members is None else 0
    frame["id_subscriber"] = subscribers["id"].to_numpy()
    return typed(frame)


def subscriber_frame(rows: Sequence[tuple]) -> pd.DataFrame:
    """Rows of the subscriber scan (Python reader) as a frame for `subscriber_rows`."""
    return _frame(rows, SUBSCRIBER_COLUMNS)


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Stable dtypes whatever the driver returned: ints, floats (NaN = none), text (NA = none)."""
    for name in INT_COLUMNS:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").fillna(0).astype("int64")
    for name in FLOAT_COLUMNS:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in STR_COLUMNS:
        frame[name] = frame[name].astype("str")
    return frame[list(RAW_COLUMNS)]


def empty_raw_frame() -> pd.DataFrame:
    return typed(pd.DataFrame({name: pd.Series(dtype="object") for name in RAW_COLUMNS}))
