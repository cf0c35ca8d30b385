"""ps_emailsubscription rows: newsletter sign-ups from the footer form, without an account."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from sna_demo.customers import CustomerChunk, seconds_to_text
from sna_demo.textgen import mask, pick

SHARE = 0.04  # subscribers per customer
_DOMAINS = ("gmail.com", "orange.fr", "free.fr", "hotmail.fr", "yahoo.fr", "laposte.net")


def generate_subscribers(
    rng: np.random.Generator, chunk: CustomerChunk, first_id: int, as_of: dt.date
) -> pd.DataFrame:
    """Some strangers, some customers who also used the form (their account's e-mail, a third of them
    typed in capitals), a fifth never confirmed (`active = 0`, double opt-in pending)."""
    customers = chunk.customers
    m = round(len(customers) * SHARE)
    source = rng.integers(0, len(customers), m)
    strangers = pd.Series(rng.integers(10**5, 10**7, m)).astype("str")
    email = "news" + strangers + "@" + pick(rng, m, _DOMAINS)
    known = mask(rng, m, 0.2)
    email[known] = customers["email"].to_numpy()[source[known]]
    recased = known & (np.arange(m) % 3 == 0)  # no random draw: the rest of the shop stays as it was
    email[recased] = email[recased].str.upper()
    created = chunk.created[source] + (rng.random(m) * 86400 * 30).astype("timedelta64[s]")
    created = np.minimum(created, np.datetime64(as_of, "s") - np.timedelta64(60, "s"))
    octets = [pd.Series(rng.integers(1, 255, m)).astype("str") for _ in range(4)]
    return pd.DataFrame(
        {
            "id": np.arange(first_id, first_id + m, dtype=np.int64),
            "id_shop": customers["id_shop"].to_numpy()[source],
            "id_shop_group": customers["id_shop_group"].to_numpy()[source],
            "email": email,
            "newsletter_date_add": seconds_to_text(created),
            "ip_registration_newsletter": octets[0] + "." + octets[1] + "." + octets[2] + "." + octets[3],
            "http_referer": None,
            "active": np.where(mask(rng, m, 0.8), 1, 0),
            "id_lang": customers["id_lang"].to_numpy()[source],
        }
    )
