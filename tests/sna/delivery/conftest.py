"""The Meta Graph fake's fixture, until `tests.fakes.meta_graph` is listed in tests/conftest.py."""

from tests.fakes.meta_graph import meta_fake  # noqa: F401
