"""ps_orders rows: paid and unpaid orders, several currencies, zero dates until invoiced."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sna_demo import reference as ref
from sna_demo.addresses import AddressChunk
from sna_demo.customers import RELAY, CustomerChunk, seconds_to_text
from sna_demo.textgen import letters, mask

ZERO_DATETIME = "0000-00-00 00:00:00"
VALID_STATES = (2, 3, 4, 5)  # payment accepted, processing, shipped, delivered
INVALID_STATES = (1, 6, 8, 10)  # awaiting check, cancelled, payment error, awaiting bank wire
DELIVERED = 5
PAYMENTS = (("Carte bancaire", "ps_checkout"), ("Virement bancaire", "ps_wirepayment"), ("PayPal", "paypal"))


def _order_counts(rng: np.random.Generator, chunk: CustomerChunk, addresses: AddressChunk) -> np.ndarray:
    customers = chunk.customers
    n = len(customers)
    guest = customers["is_guest"].to_numpy() == 1
    vip = customers["id_default_group"].to_numpy() == ref.VIP
    count = np.where(mask(rng, n, 0.45), 0, rng.geometric(0.45, n))
    count = np.where(vip, rng.geometric(0.15, n), count)
    count = np.where(guest, np.where(mask(rng, n, 0.93), 1, 2), count)
    return np.where(addresses.count > 0, count, 0)


def generate_orders(
    rng: np.random.Generator,
    chunk: CustomerChunk,
    addresses: AddressChunk,
    first_id: int,
    as_of: dt.date,
) -> pd.DataFrame:
    """Orders of the chunk's customers, ids from `first_id` in date order."""
    customers = chunk.customers
    count = _order_counts(rng, chunk, addresses)
    owner = np.repeat(np.arange(len(customers)), count)
    m = len(owner)
    address_ids = addresses.rows["id_address"].to_numpy()

    def pick_address() -> np.ndarray:
        offset = (rng.random(m) * addresses.count[owner]).astype(np.int64)
        return address_ids[addresses.start[owner] + offset]

    invoice_address = pick_address()
    delivery_address = np.where(mask(rng, m, 0.9), invoice_address, pick_address())

    end = np.datetime64(as_of, "s") - np.timedelta64(60, "s")
    created = chunk.created[owner]
    guest = customers["is_guest"].to_numpy()[owner] == 1
    spread = (rng.random(m) ** 0.7 * (end - created).astype(np.int64)).astype(np.int64)
    spread = np.where(guest, rng.integers(60, 3600, m), spread)
    placed = np.minimum(created + spread.astype("timedelta64[s]"), end)

    valid = mask(rng, m, 0.8)
    state = np.where(valid, rng.choice(VALID_STATES, m), rng.choice(INVALID_STATES, m))
    currency = np.where(mask(rng, m, 0.9), 1, rng.choice([2, 3, 4], m))
    rate = pd.Series(currency).map(ref.CURRENCY_RATES).to_numpy()
    amount = np.round(rng.lognormal(4.0, 0.8, m) * rate, 2)
    shipping = np.where(amount > 60, 0.0, 4.9)
    invoiced = valid & ~mask(rng, m, 0.03)
    invoice_date = seconds_to_text(placed + np.timedelta64(300, "s")).where(invoiced, ZERO_DATETIME)
    delivery_date = seconds_to_text(placed + np.timedelta64(3 * 86400, "s")).where(
        state == DELIVERED, ZERO_DATETIME
    )
    payment = rng.integers(0, len(PAYMENTS), m)
    relay = chunk.kind[owner] == RELAY
    date_add = seconds_to_text(placed)
    rows = pd.DataFrame(
        {
            "reference": letters(rng, m)
            + letters(rng, m)
            + letters(rng, m)
            + letters(rng, m)
            + letters(rng, m)
            + letters(rng, m)
            + letters(rng, m)
            + letters(rng, m)
            + letters(rng, m),
            "id_shop_group": customers["id_shop_group"].to_numpy()[owner],
            "id_shop": customers["id_shop"].to_numpy()[owner],
            "id_carrier": rng.integers(1, 5, m),
            "id_lang": customers["id_lang"].to_numpy()[owner],
            "id_customer": customers["id_customer"].to_numpy()[owner],
            "id_currency": currency,
            "id_address_delivery": delivery_address,
            "id_address_invoice": invoice_address,
            "current_state": state,
            "secure_key": customers["secure_key"].to_numpy()[owner],
            "payment": np.where(relay, "Amazon MarketPlace", np.asarray([p[0] for p in PAYMENTS])[payment]),
            "conversion_rate": rate,
            "module": np.where(relay, "amazon", np.asarray([p[1] for p in PAYMENTS])[payment]),
            "total_paid": amount,
            "total_paid_tax_incl": amount,
            "total_paid_tax_excl": np.round(amount / 1.2, 2),
            "total_paid_real": np.where(valid, amount, 0.0),
            "total_products": np.round((amount - shipping) / 1.2, 2),
            "total_products_wt": np.round(amount - shipping, 2),
            "total_shipping": shipping,
            "total_shipping_tax_incl": shipping,
            "total_shipping_tax_excl": np.round(shipping / 1.2, 2),
            "carrier_tax_rate": 20.0,
            "invoice_date": invoice_date,
            "delivery_date": delivery_date,
            "valid": valid.astype(np.int64),
            "date_add": date_add,
            "date_upd": date_add,
        }
    )
    rows = rows.sort_values(["date_add", "id_customer"], kind="stable", ignore_index=True)
    ids = np.arange(first_id, first_id + m, dtype=np.int64)
    rows.insert(0, "id_order", ids)
    rows.insert(7, "id_cart", ids + 3)
    invoiced_rows = (rows["invoice_date"] != ZERO_DATETIME).to_numpy()
    rows["invoice_number"] = np.where(invoiced_rows, ids, 0)
    rows["delivery_number"] = np.where(rows["delivery_date"] != ZERO_DATETIME, ids, 0)
    return rows
