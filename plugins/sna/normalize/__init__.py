"""Normalization, validity and columns of the two platform files (docs/formats.md)."""

from sna.normalize.phones import parse_phones
from sna.normalize.profiles import FIELDS, GoogleProfile, MetaProfile, Profile, profile_for

__all__ = ["FIELDS", "GoogleProfile", "MetaProfile", "Profile", "parse_phones", "profile_for"]
