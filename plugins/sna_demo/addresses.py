"""ps_address rows: 0..3 per customer, plus the manufacturer addresses (id_customer = 0).

The newest address (by `date_upd`) is not always the one with the highest id, some are disabled,
and the ones used by orders can be soft-deleted afterwards (`mark_used_deleted`), as PrestaShop
does when a customer edits an address that an order refers to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sna_demo import reference as ref
from sna_demo.customers import DEMO, PLACEHOLDER, RELAY, CustomerChunk, seconds_to_text
from sna_demo.phones import address_phones
from sna_demo.postcodes import cities, postcodes
from sna_demo.textgen import mask, pick
from sna_demo.vocabulary import FIRST_NAMES_FEMALE, LAST_NAMES, STREETS

MANUFACTURER_ADDRESSES = 4
_STATES_BY_COUNTRY = {
    iso: np.asarray([s.id for s in ref.STATES if s.country == iso]) for iso in ("US", "CA", "IT")
}


@dataclass
class AddressChunk:
    """Address rows and, per customer, where its addresses start in `rows` and how many."""

    rows: pd.DataFrame
    start: np.ndarray
    count: np.ndarray


def _states(rng: np.random.Generator, countries: np.ndarray) -> np.ndarray:
    state = np.zeros(len(countries), dtype=np.int64)
    for iso, ids in _STATES_BY_COUNTRY.items():
        where = countries == iso
        state[where] = rng.choice(ids, size=int(where.sum()))
    return state


def generate_addresses(
    rng: np.random.Generator, chunk: CustomerChunk, first_id: int, as_of: dt.date
) -> AddressChunk:
    """Addresses of the chunk's customers, ids from `first_id` in customer order."""
    customers = chunk.customers
    n = len(customers)
    count = rng.choice(4, size=n, p=[0.22, 0.53, 0.18, 0.07])
    guest = customers["is_guest"].to_numpy() == 1
    count[guest] = np.where(mask(rng, int(guest.sum()), 0.9), 1, 2)
    count[np.isin(chunk.kind, [PLACEHOLDER, DEMO])] = 1
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    owner = np.repeat(np.arange(n), count)
    m = len(owner)

    countries = chunk.home_country[owner].copy()
    abroad = mask(rng, m, 0.07)
    isos = np.asarray([c.iso for c in ref.COUNTRIES], dtype=object)
    countries[abroad] = rng.choice(isos, size=int(abroad.sum()))
    state = _states(rng, countries)
    rank = np.arange(m) - start[owner]  # 0 for the first address of each customer
    created = chunk.created[owner] + (rng.random(m) * 86400 * (1 + 200 * rank)).astype("timedelta64[s]")
    limit = np.datetime64(as_of, "s") - np.timedelta64(60, "s")
    created = np.minimum(created, limit)
    updated = created + (rng.random(m) ** 3 * (limit - created).astype(np.int64)).astype("timedelta64[s]")

    first = chunk.first_name.to_numpy()[owner]
    last = chunk.last_name.to_numpy()[owner]
    gift = mask(rng, m, 0.05)
    first[gift] = pick(rng, int(gift.sum()), FIRST_NAMES_FEMALE).to_numpy()
    last[gift] = pick(rng, int(gift.sum()), LAST_NAMES).to_numpy()
    phone, phone_mobile = address_phones(rng, countries, state)
    rows = pd.DataFrame(
        {
            "id_address": np.arange(first_id, first_id + m, dtype=np.int64),
            "id_country": _country_ids(countries),
            "id_state": pd.Series(state, dtype="Int64").where(~mask(rng, m, 0.3) | (state > 0), None),
            "id_customer": customers["id_customer"].to_numpy()[owner],
            "alias": pick(rng, m, ("Mon adresse", "My address", "Domicile", "Travail", "Maison")),
            "company": None,
            "lastname": pd.Series(last).astype("str"),
            "firstname": pd.Series(first).astype("str"),
            "address1": pd.Series(rng.integers(1, 200, m)).astype("str") + " " + pick(rng, m, STREETS),
            "address2": pd.Series("Bâtiment B", index=pd.RangeIndex(m)).where(mask(rng, m, 0.1), None),
            "postcode": postcodes(rng, countries, state),
            "city": cities(rng, countries),
            "phone": phone,
            "phone_mobile": phone_mobile,
            "date_add": seconds_to_text(created),
            "date_upd": seconds_to_text(updated),
            "active": np.where(mask(rng, m, 0.02), 0, 1),
            "deleted": 0,
        }
    )
    _apply_kinds(rng, rows, chunk.kind[owner])
    return AddressChunk(rows=rows, start=start, count=count)


def _country_ids(countries: np.ndarray) -> np.ndarray:
    by_iso = {c.iso: c.id for c in ref.COUNTRIES}
    return pd.Series(countries).map(by_iso).to_numpy(dtype=np.int64)


def _apply_kinds(rng: np.random.Generator, rows: pd.DataFrame, kind: np.ndarray) -> None:
    """GDPR placeholders, marketplace relays and the demo account have their own addresses."""
    placeholder = kind == PLACEHOLDER
    for column in ("alias", "firstname", "lastname", "address1", "city"):
        rows.loc[placeholder, column] = "Anonymous"
    rows.loc[placeholder, "postcode"] = "00000"
    rows.loc[placeholder, "phone"] = "0000000000"
    rows.loc[placeholder, "phone_mobile"] = None
    relay = np.flatnonzero(kind == RELAY)
    dummy = relay[mask(rng, len(relay), 0.3)]
    rows.loc[dummy, "phone"] = np.where(mask(rng, len(dummy), 0.5), "0102030405", "0611111111")
    dashed = relay[mask(rng, len(relay), 0.3)]
    rows.loc[dashed, "firstname"] = "-"
    demo = np.flatnonzero(kind == DEMO)
    if len(demo):
        demo_values = {
            "id_country": ref.COUNTRY_BY_ISO["US"].id,
            "id_state": 6,
            "alias": "My address",
            "firstname": "John",
            "lastname": "DOE",
            "address1": "16, Main street",
            "address2": "2nd floor",
            "postcode": "33133",
            "city": "Miami",
            "phone": "0102030405",
            "phone_mobile": None,
            "active": 1,
        }
        for column, value in demo_values.items():
            rows.loc[demo, column] = value


def mark_used_deleted(rng: np.random.Generator, rows: pd.DataFrame, used_ids: np.ndarray) -> None:
    """Soft-delete some addresses that orders refer to (the customer edited them later)."""
    used = np.unique(used_ids)
    chosen = used[mask(rng, len(used), 0.12)]
    rows.loc[rows["id_address"].isin(chosen), "deleted"] = 1


def manufacturer_addresses(as_of: dt.date) -> pd.DataFrame:
    """Addresses of manufacturers and suppliers: id_customer = 0, ids 1..4."""
    when = ref.install_datetime(as_of)
    return pd.DataFrame(
        {
            "id_address": np.arange(1, MANUFACTURER_ADDRESSES + 1),
            "id_country": [8, 8, 1, 10],
            "id_state": [0, 0, 0, 0],
            "id_customer": 0,
            "id_manufacturer": [1, 2, 0, 0],
            "id_supplier": [0, 0, 1, 2],
            "alias": ["manufacturer", "manufacturer", "supplier", "supplier"],
            "company": ["Fashion Manufacturer", "Studio Design", "Fashion Supplier", "Accessories Supplier"],
            "lastname": ["manufacturer", "manufacturer", "supplier", "supplier"],
            "firstname": ["manufacturer", "manufacturer", "supplier", "supplier"],
            "address1": ["12 rue de Rivoli", "3 place Bellecour", "Unter den Linden 1", "Via Roma 5"],
            "postcode": ["75001", "69002", "10117", "10121"],
            "city": ["Paris", "Lyon", "Berlin", "Torino"],
            "phone": ["01 40 20 50 50", "04 72 10 30 30", "030 12345678", "011 1234567"],
            "date_add": when,
            "date_upd": when,
            "active": 1,
            "deleted": 0,
        }
    )
