"""The Data Manager fake for these tests (until tests/conftest.py lists tests.fakes.google_datamanager)."""

from tests.fakes.google_datamanager import google_fake  # noqa: F401
