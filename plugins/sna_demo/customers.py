"""ps_customer and ps_customer_group rows for one chunk of demo customers.

Real shops are messy and the exporter must cope, so the chunk contains: guests sharing an e-mail
with a registered account, the same person in two shops, gmail dot/+suffix variants, marketplace
relay e-mails with `-` names, GDPR placeholders, the demo account, deleted and disabled rows,
impossible birthdays, names in every case and spacing, malformed e-mails.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sna_demo import reference as ref
from sna_demo.textgen import digits, mask, pick
from sna_demo.vocabulary import (
    EMAIL_DOMAINS,
    FIRST_NAMES_FEMALE,
    FIRST_NAMES_MALE,
    LAST_NAMES,
    MALFORMED_EMAILS,
    RELAY_DOMAINS,
)

# Kinds of customers whose addresses and orders look different.
REGULAR, PLACEHOLDER, RELAY, DEMO = 0, 1, 2, 3
HISTORY_YEARS = 8
PASSWORD_PLACEHOLDER = "$2y$10$demoShopPasswordHashNotARealOneAtAll000000000000000000"
DEMO_EMAIL = "pub@prestashop.com"


@dataclass
class CustomerChunk:
    """Table rows plus what the address and order generators need to stay consistent."""

    customers: pd.DataFrame
    customer_groups: pd.DataFrame
    home_country: np.ndarray  # ISO code per customer
    kind: np.ndarray  # REGULAR / PLACEHOLDER / RELAY / DEMO
    first_name: pd.Series  # clean names, for addresses
    last_name: pd.Series
    created: np.ndarray  # date_add as datetime64[s]


def seconds_to_text(values: np.ndarray) -> pd.Series:
    """datetime64[s] values as MySQL prints them ('YYYY-MM-DD HH:MM:SS')."""
    return pd.Series(np.datetime_as_string(values.astype("datetime64[s]"), unit="s")).str.replace(
        "T", " ", regex=False
    )


def _ascii_token(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z]", "", folded)


def _names(
    rng: np.random.Generator, id_gender: np.ndarray
) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """Clean first and last names plus their ASCII e-mail tokens."""
    n = len(id_gender)
    female = (id_gender == 2) | ((id_gender != 1) & mask(rng, n, 0.5))
    first_pool = np.asarray(FIRST_NAMES_MALE + FIRST_NAMES_FEMALE, dtype=object)
    first_index = np.where(
        female,
        len(FIRST_NAMES_MALE) + rng.integers(0, len(FIRST_NAMES_FEMALE), n),
        rng.integers(0, len(FIRST_NAMES_MALE), n),
    )
    last_index = rng.integers(0, len(LAST_NAMES), n)
    first_tokens = np.asarray([_ascii_token(name) for name in first_pool], dtype=object)
    last_tokens = np.asarray([_ascii_token(name) for name in LAST_NAMES], dtype=object)

    def as_str(values: np.ndarray) -> pd.Series:
        return pd.Series(values).astype("str")

    return (
        as_str(first_pool[first_index]),
        as_str(np.asarray(LAST_NAMES, dtype=object)[last_index]),
        as_str(first_tokens[first_index]),
        as_str(last_tokens[last_index]),
    )


def _emails(rng: np.random.Generator, first: pd.Series, last: pd.Series) -> pd.Series:
    n = len(first)
    styles = rng.choice(6, size=n, p=[0.35, 0.15, 0.15, 0.1, 0.15, 0.1])
    local = pd.Series("", index=first.index, dtype="str")
    forms = {
        0: first + "." + last,
        1: first + last,
        2: first.str.slice(0, 1) + last,
        3: first + "_" + last,
        4: last + "." + first,
        5: first + "-" + last,
    }
    for style, value in forms.items():
        local[styles == style] = value[styles == style]
    numbered = mask(rng, n, 0.6)
    local[numbered] = local[numbered] + pd.Series(rng.integers(1, 2000, n)).astype("str")[numbered]
    domains = pick(rng, n, [d for d, _w in EMAIL_DOMAINS], [w for _d, w in EMAIL_DOMAINS])
    return local + "@" + domains


def _copy_people(
    rng: np.random.Generator, frame: pd.DataFrame, targets: np.ndarray, sources_pool: np.ndarray
) -> np.ndarray:
    """Give `targets` rows the e-mail and names of random rows of `sources_pool`; return sources."""
    if len(targets) == 0 or len(sources_pool) == 0:
        return np.empty(0, dtype=np.int64)
    sources = rng.choice(sources_pool, size=len(targets))
    for column in ("email", "firstname", "lastname"):
        frame.loc[targets, column] = frame[column].to_numpy()[sources]
    return sources


def _gmail_variants(emails: pd.Series, rng: np.random.Generator) -> pd.Series:
    """Same inbox for Google: dots moved inside the local part, or a +suffix."""
    local = emails.str.split("@").str[0].str.replace(".", "", regex=False)
    cut = pd.Series(rng.integers(1, 4, len(emails)), index=emails.index)
    dotted = local.str.slice(0, 1) + "." + local.str.slice(1)
    with_suffix = local + pd.Series(
        rng.choice(["+shop", "+promo", "+fr", "+2024"], len(emails)), index=emails.index
    ).astype("str")
    chosen = np.where(cut.to_numpy() == 1, dotted, with_suffix)
    domain = np.where(mask(rng, len(emails), 0.3), "GMAIL.com", "gmail.com")
    return pd.Series(chosen, index=emails.index).astype("str") + "@" + pd.Series(domain, index=emails.index)


def _birthdays(rng: np.random.Generator, n: int, as_of: dt.date) -> pd.Series:
    """NULL, zero dates, plausible adults, and impossible values (1800s, future, children)."""
    as_of_day = np.datetime64(as_of, "D")
    kind = rng.choice(6, size=n, p=[0.42, 0.10, 0.44, 0.015, 0.01, 0.015])
    days = np.empty(n, dtype="datetime64[D]")
    adult_age = rng.integers(18 * 365, 85 * 365, n)
    days[:] = as_of_day - adult_age
    days[kind == 3] = np.datetime64("1800-01-01") + rng.integers(0, 99 * 365, int((kind == 3).sum()))
    days[kind == 4] = as_of_day + rng.integers(1, 5000, int((kind == 4).sum()))
    days[kind == 5] = as_of_day - rng.integers(1, 12 * 365, int((kind == 5).sum()))
    text = pd.Series(np.datetime_as_string(days, unit="D")).astype("str")
    text[kind == 1] = "0000-00-00"
    return text.where(kind != 0, None)


def _messy_names(rng: np.random.Generator, names: pd.Series, upper_share: float) -> pd.Series:
    n = len(names)
    names = names.copy()
    upper = mask(rng, n, upper_share)
    names[upper] = names[upper].str.upper()
    lower = mask(rng, n, 0.03)
    names[lower] = names[lower].str.lower()
    spaced = mask(rng, n, 0.03)
    names[spaced] = " " + names[spaced] + "  "
    return names


def _messy_emails(rng: np.random.Generator, emails: pd.Series) -> pd.Series:
    n = len(emails)
    emails = emails.copy()
    upper = mask(rng, n, 0.02)
    emails[upper] = emails[upper].str.upper()
    capital = mask(rng, n, 0.03)
    emails[capital] = emails[capital].str.slice(0, 1).str.upper() + emails[capital].str.slice(1)
    spaced = mask(rng, n, 0.02)
    emails[spaced] = " " + emails[spaced] + " "
    malformed = mask(rng, n, 0.008)
    emails[malformed] = pick(rng, int(malformed.sum()), MALFORMED_EMAILS).to_numpy()
    return emails


def generate_customers(
    rng: np.random.Generator, first_id: int, count: int, total: int, as_of: dt.date
) -> CustomerChunk:
    """Customers `first_id .. first_id + count - 1` of a shop of `total` customers."""
    n = count
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    shops = np.asarray([s[0] for s in ref.SHOPS])
    id_shop = rng.choice(shops, size=n, p=[s[3] for s in ref.SHOPS])
    id_gender = rng.choice(4, size=n, p=[0.2, 0.38, 0.40, 0.02])
    countries = np.asarray([c.iso for c in ref.COUNTRIES], dtype=object)
    weights = np.asarray([c.weight for c in ref.COUNTRIES])
    home = countries[rng.choice(len(countries), size=n, p=weights / weights.sum())]
    first, last, first_token, last_token = _names(rng, id_gender)

    is_guest = mask(rng, n, 0.15).astype(np.int64)
    group = rng.choice([ref.CUSTOMER, ref.VIP, ref.PRO, ref.VISITOR], size=n, p=[0.88, 0.05, 0.05, 0.02])
    group = np.where(is_guest == 1, ref.GUEST, group)

    frame = pd.DataFrame(
        {"email": _emails(rng, first_token, last_token), "firstname": first, "lastname": last}
    )
    kind = np.full(n, REGULAR, dtype=np.int64)
    registered = np.flatnonzero(is_guest == 0)
    guests = np.flatnonzero(is_guest == 1)
    # Guests who come back with the e-mail of an account (and the other way round).
    _copy_people(rng, frame, guests[mask(rng, len(guests), 0.5)], registered)
    # The same person registered in another shop.
    twins = registered[mask(rng, len(registered), 0.04)]
    sources = _copy_people(rng, frame, twins, registered)
    id_shop[twins] = np.where(id_shop[sources] == 1, 3, 1)
    # gmail variants of an existing gmail account.
    gmail_rows = np.flatnonzero(frame["email"].str.endswith("@gmail.com").to_numpy())
    variants = np.flatnonzero(mask(rng, n, 0.03))
    sources = _copy_people(rng, frame, variants, gmail_rows)
    if len(sources):
        frame.loc[variants, "email"] = _gmail_variants(frame["email"].iloc[variants], rng).to_numpy()

    email = _messy_emails(rng, frame["email"])
    firstname = _messy_names(rng, frame["firstname"], 0.02)
    lastname = _messy_names(rng, frame["lastname"], 0.12)

    relay = np.flatnonzero(mask(rng, n, 0.03))
    kind[relay] = RELAY
    relay_local = pd.Series(rng.integers(10**12, 10**13, len(relay))).astype("str") + pick(
        rng, len(relay), list("abcdefghjkmnpqrstvwxyz")
    )
    email[relay] = (relay_local + "@" + pick(rng, len(relay), RELAY_DOMAINS)).to_numpy()
    clemarche = relay[mask(rng, len(relay), 0.2)]
    email[clemarche] = np.where(
        mask(rng, len(clemarche), 0.5),
        "noreply@clemarche.com",
        (digits(rng, len(clemarche), 8) + "-noreply@clemarche.com").to_numpy(),
    )
    dashed = relay[mask(rng, len(relay), 0.4)]
    firstname[dashed] = np.where(mask(rng, len(dashed), 0.5), "-", ".")
    lastname[dashed] = np.where(mask(rng, len(dashed), 0.7), "-", ".")

    birthday = _birthdays(rng, n, as_of)
    placeholder = np.flatnonzero(mask(rng, n, 0.003))
    kind[placeholder] = PLACEHOLDER
    email[placeholder] = np.where(
        mask(rng, len(placeholder), 0.8), "anonymous@psgdpr.com", "anonymous@anonymous.com"
    )
    firstname[placeholder] = "Anonymous"
    lastname[placeholder] = "Anonymous"
    birthday[placeholder] = "0000-00-00"

    newsletter = mask(rng, n, 0.35).astype(np.int64)
    optin = mask(rng, n, 0.15).astype(np.int64)
    deleted = mask(rng, n, 0.02).astype(np.int64)
    active = np.where(mask(rng, n, 0.03), 0, 1)
    id_gender_out = id_gender.copy()

    if first_id == 1:  # PrestaShop's demo account is always customer 1
        kind[0] = DEMO
        email[0], firstname[0], lastname[0] = DEMO_EMAIL, "John", "DOE"
        first[0], last[0] = "John", "DOE"
        birthday[0], id_gender_out[0], home[0], id_shop[0] = "1970-01-15", 1, "US", 1
        group[0], is_guest[0], deleted[0], active[0] = ref.CUSTOMER, 0, 0, 1
        newsletter[0], optin[0] = 1, 1

    created = _creation_times(rng, ids, total, as_of)
    date_add = seconds_to_text(created)
    updated = created + (rng.random(n) * (np.datetime64(as_of, "s") - created).astype(np.int64) * 0.3).astype(
        "timedelta64[s]"
    )
    french = np.isin(home, ["FR", "BE", "CH", "LU", "CA"])
    customers = pd.DataFrame(
        {
            "id_customer": ids,
            "id_shop_group": np.asarray([ref.SHOP_GROUP[s] for s in shops])[np.searchsorted(shops, id_shop)],
            "id_shop": id_shop,
            "id_gender": id_gender_out,
            "id_default_group": group,
            "id_lang": np.where(french & ~mask(rng, n, 0.1), 2, 1),
            "id_risk": 0,
            "company": pd.Series(lastname + " SARL").where(group == ref.PRO, None),
            "firstname": firstname,
            "lastname": lastname,
            "email": email,
            "passwd": PASSWORD_PLACEHOLDER,
            "last_passwd_gen": date_add,
            "birthday": birthday,
            "newsletter": newsletter,
            "ip_registration_newsletter": _ips(rng, n).where(newsletter == 1, None),
            "newsletter_date_add": date_add.where(newsletter == 1, None),
            "optin": optin,
            "secure_key": _hex_keys(rng, n),
            "active": active,
            "is_guest": is_guest,
            "deleted": deleted,
            "date_add": date_add,
            "date_upd": seconds_to_text(updated),
        }
    )
    return CustomerChunk(
        customers=customers,
        customer_groups=_memberships(rng, ids, group),
        home_country=home,
        kind=kind,
        first_name=first,
        last_name=last,
        created=created,
    )


def _creation_times(rng: np.random.Generator, ids: np.ndarray, total: int, as_of: dt.date) -> np.ndarray:
    """Account creation spread over the history, increasing with the id as in a real shop."""
    end = np.datetime64(as_of, "s") - np.timedelta64(3600, "s")
    start = np.datetime64(as_of.replace(year=as_of.year - HISTORY_YEARS), "s")
    span = (end - start).astype(np.int64)
    offsets = ((ids - 1 + rng.random(len(ids))) / max(total, 1) * span).astype(np.int64)
    return start + offsets.astype("timedelta64[s]")


def _memberships(rng: np.random.Generator, ids: np.ndarray, group: np.ndarray) -> pd.DataFrame:
    """Default group usually (not always) listed; VIP and Pro also in Customer; a few extras."""
    n = len(ids)
    listed = ~mask(rng, n, 0.05)
    parts_id = [ids[listed]]
    parts_group = [group[listed]]
    in_customer = np.isin(group, [ref.VIP, ref.PRO]) & ~mask(rng, n, 0.2)
    parts_id.append(ids[in_customer])
    parts_group.append(np.full(int(in_customer.sum()), ref.CUSTOMER))
    extra = mask(rng, n, 0.03)
    parts_id.append(ids[extra])
    parts_group.append(rng.choice([ref.VIP, ref.PRO], size=int(extra.sum())))
    frame = pd.DataFrame({"id_customer": np.concatenate(parts_id), "id_group": np.concatenate(parts_group)})
    return frame.drop_duplicates().sort_values(["id_customer", "id_group"], ignore_index=True)


def _ips(rng: np.random.Generator, n: int) -> pd.Series:
    octets = [pd.Series(rng.integers(1, 255, n)).astype("str") for _ in range(4)]
    return octets[0] + "." + octets[1] + "." + octets[2] + "." + octets[3]


def _hex_keys(rng: np.random.Generator, n: int) -> list[str]:
    text = rng.bytes(16 * n).hex()
    return [text[i : i + 32] for i in range(0, len(text), 32)]
