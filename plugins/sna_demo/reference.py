"""The small reference tables of the demo shop: languages, shops, groups, titles, countries, states.

Country ids follow PrestaShop's install order (DE=1, AT=2, BE=3, ... FR=8), not the alphabet,
so that code joining on `id_country` instead of `iso_code` shows up in tests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Country:
    """One ps_country row plus how often the demo customers live there."""

    iso: str
    id: int
    id_zone: int
    call_prefix: int
    zip_code_format: str
    name_en: str
    name_fr: str
    weight: float
    contains_states: int = 0


# Formats are PrestaShop's country.xml values; GB has no format there (no check).
COUNTRIES: tuple[Country, ...] = (
    Country("FR", 8, 1, 33, "NNNNN", "France", "France", 0.55),
    Country("BE", 3, 1, 32, "NNNN", "Belgium", "Belgique", 0.10),
    Country("CH", 19, 7, 41, "NNNN", "Switzerland", "Suisse", 0.06),
    Country("DE", 1, 1, 49, "NNNNN", "Germany", "Allemagne", 0.05),
    Country("ES", 6, 1, 34, "NNNNN", "Spain", "Espagne", 0.05),
    Country("IT", 10, 1, 39, "NNNNN", "Italy", "Italie", 0.04, contains_states=1),
    Country("GB", 17, 7, 44, "", "United Kingdom", "Royaume-Uni", 0.04),
    Country("US", 21, 2, 1, "NNNNN", "United States", "États-Unis", 0.03, contains_states=1),
    Country("NL", 13, 1, 31, "NNNN LL", "Netherlands", "Pays-Bas", 0.02),
    Country("LU", 12, 1, 352, "NNNN", "Luxembourg", "Luxembourg", 0.015),
    Country("PT", 15, 1, 351, "NNNN-NNN", "Portugal", "Portugal", 0.015),
    Country("CA", 4, 2, 1, "LNL NLN", "Canada", "Canada", 0.01, contains_states=1),
    Country("AT", 2, 1, 43, "NNNN", "Austria", "Autriche", 0.008),
    Country("PL", 14, 1, 48, "NN-NNN", "Poland", "Pologne", 0.007),
)
COUNTRY_BY_ISO: dict[str, Country] = {country.iso: country for country in COUNTRIES}
DEFAULT_COUNTRY = "FR"


@dataclass(frozen=True)
class State:
    """One ps_state row; `zip_range` and `area_codes` keep US/CA/IT addresses consistent."""

    id: int
    country: str
    iso_code: str
    name: str
    zip_range: tuple[int, int] = (0, 0)
    area_codes: tuple[int, ...] = ()
    zip_letters: str = ""


STATES: tuple[State, ...] = (
    State(1, "US", "CA", "California", (90001, 96162), (650, 415, 213)),
    State(2, "US", "NY", "New York", (10001, 14925), (212, 718)),
    State(3, "US", "TX", "Texas", (75001, 79999), (512, 214)),
    State(4, "US", "MA", "Massachusetts", (1001, 2791), (617, 508)),
    State(5, "US", "NJ", "New Jersey", (7001, 8989), (201, 973)),
    State(6, "US", "FL", "Florida", (32003, 34997), (305, 407)),
    State(7, "US", "WA", "Washington", (98001, 99403), (206, 425)),
    State(8, "US", "IL", "Illinois", (60001, 62999), (312, 773)),
    State(9, "US", "CT", "Connecticut", (6001, 6928), (860, 203)),
    State(10, "IT", "MI", "Milano", (20121, 20162)),
    State(11, "IT", "RM", "Roma", (118, 199)),
    State(12, "IT", "TO", "Torino", (10121, 10156)),
    State(13, "IT", "NA", "Napoli", (80121, 80147)),
    State(14, "CA", "QC", "Québec", area_codes=(514, 418), zip_letters="HGJ"),
    State(15, "CA", "ON", "Ontario", area_codes=(416, 613), zip_letters="MKLNP"),
    State(16, "CA", "BC", "British Columbia", area_codes=(604, 250), zip_letters="V"),
)

# Shops: (id_shop, id_shop_group, name, weight of customers).
SHOPS: tuple[tuple[int, int, str, float], ...] = (
    (1, 1, "Boutique FR", 0.70),
    (2, 1, "Outlet", 0.20),
    (3, 2, "Pro Store", 0.10),
)
SHOP_GROUP = {shop_id: group for shop_id, group, _name, _weight in SHOPS}

VISITOR, GUEST, CUSTOMER, VIP, PRO = 1, 2, 3, 4, 5
GROUP_NAMES = {
    VISITOR: ("Visitor", "Visiteur"),
    GUEST: ("Guest", "Invité"),
    CUSTOMER: ("Customer", "Client"),
    VIP: ("VIP", "VIP"),
    PRO: ("Pro", "Professionnel"),
}

# Currencies: id -> conversion rate to the default currency (1 = EUR).
CURRENCY_RATES = {1: 1.0, 2: 1.08, 3: 0.86, 4: 0.94}


def install_datetime(as_of: dt.date) -> str:
    """When the demo shop was installed: ten years before the reference date."""
    return f"{as_of.year - 10:04d}-{as_of.month:02d}-01 09:00:00"


def reference_tables(as_of: dt.date) -> dict[str, pd.DataFrame]:
    """Every reference table, keyed by table name without prefix, in insertion order."""
    installed = install_datetime(as_of)
    countries = pd.DataFrame(
        {
            "id_country": [c.id for c in COUNTRIES],
            "id_zone": [c.id_zone for c in COUNTRIES],
            "id_currency": 0,
            "iso_code": [c.iso for c in COUNTRIES],
            "call_prefix": [c.call_prefix for c in COUNTRIES],
            "active": 1,
            "contains_states": [c.contains_states for c in COUNTRIES],
            "need_identification_number": 0,
            "need_zip_code": 1,
            "zip_code_format": [c.zip_code_format for c in COUNTRIES],
            "display_tax_label": 1,
        }
    ).sort_values("id_country")
    return {
        "lang": pd.DataFrame(
            {
                "id_lang": [1, 2],
                "name": ["English (English)", "Français (French)"],
                "active": 1,
                "iso_code": ["en", "fr"],
                "language_code": ["en-us", "fr-fr"],
                "locale": ["en-US", "fr-FR"],
                "date_format_lite": ["m/d/Y", "d/m/Y"],
                "date_format_full": ["m/d/Y H:i:s", "d/m/Y H:i:s"],
                "is_rtl": 0,
            }
        ),
        "configuration": _configuration(installed),
        "shop_group": pd.DataFrame(
            {
                "id_shop_group": [1, 2],
                "name": ["Default", "Pro"],
                "color": "",
                "share_customer": [1, 0],
                "share_order": [0, 0],
                "share_stock": [0, 0],
                "active": 1,
                "deleted": 0,
            }
        ),
        "shop": pd.DataFrame(
            {
                "id_shop": [s[0] for s in SHOPS],
                "id_shop_group": [s[1] for s in SHOPS],
                "name": [s[2] for s in SHOPS],
                "color": "",
                "id_category": 2,
                "theme_name": "classic",
                "active": 1,
                "deleted": 0,
            }
        ),
        "gender": pd.DataFrame({"id_gender": [1, 2, 3], "type": [0, 1, 2]}),
        "gender_lang": pd.DataFrame(
            {
                "id_gender": [1, 1, 2, 2, 3, 3],
                "id_lang": [1, 2, 1, 2, 1, 2],
                "name": ["Mr.", "M.", "Mrs.", "Mme", "Other", "Autre"],
            }
        ),
        "group": pd.DataFrame(
            {
                "id_group": list(GROUP_NAMES),
                "reduction": [0.0, 0.0, 0.0, 5.0, 10.0],
                "price_display_method": [0, 0, 0, 0, 1],
                "show_prices": 1,
                "date_add": installed,
                "date_upd": installed,
            }
        ),
        "group_lang": pd.DataFrame(
            [
                {"id_group": group, "id_lang": lang, "name": names[lang - 1]}
                for group, names in GROUP_NAMES.items()
                for lang in (1, 2)
            ]
        ),
        "group_shop": pd.DataFrame(
            [{"id_group": group, "id_shop": shop[0]} for group in GROUP_NAMES for shop in SHOPS]
        ),
        "country": countries,
        "country_lang": pd.DataFrame(
            [
                {"id_country": c.id, "id_lang": lang, "name": c.name_en if lang == 1 else c.name_fr}
                for c in sorted(COUNTRIES, key=lambda c: c.id)
                for lang in (1, 2)
            ]
        ),
        "state": pd.DataFrame(
            {
                "id_state": [s.id for s in STATES],
                "id_country": [COUNTRY_BY_ISO[s.country].id for s in STATES],
                "id_zone": [COUNTRY_BY_ISO[s.country].id_zone for s in STATES],
                "name": [s.name for s in STATES],
                "iso_code": [s.iso_code for s in STATES],
                "tax_behavior": 0,
                "active": 1,
            }
        ),
    }


def _configuration(installed: str) -> pd.DataFrame:
    """Global settings, plus one shop-level override as multistore shops have."""
    rows = [
        (None, None, "PS_LANG_DEFAULT", "1"),
        (None, None, "PS_COUNTRY_DEFAULT", str(COUNTRY_BY_ISO[DEFAULT_COUNTRY].id)),
        (None, None, "PS_CURRENCY_DEFAULT", "1"),
        (None, None, "PS_SHOP_DEFAULT", "1"),
        (None, None, "PS_UNIDENTIFIED_GROUP", str(VISITOR)),
        (None, None, "PS_GUEST_GROUP", str(GUEST)),
        (None, None, "PS_CUSTOMER_GROUP", str(CUSTOMER)),
        (None, None, "PS_MULTISHOP_FEATURE_ACTIVE", "1"),
        (2, 3, "PS_LANG_DEFAULT", "2"),
    ]
    frame = pd.DataFrame(rows, columns=["id_shop_group", "id_shop", "name", "value"])
    frame.insert(0, "id_configuration", range(1, len(rows) + 1))
    frame["id_shop_group"] = frame["id_shop_group"].astype("Int64")
    frame["id_shop"] = frame["id_shop"].astype("Int64")
    frame["date_add"] = installed
    frame["date_upd"] = installed
    return frame
