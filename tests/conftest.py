"""Shared test set-up: real services are started by the fixture modules below, never mocked."""

pytest_plugins = [
    "tests.fixtures.mariadb",
    "tests.fixtures.s3",
    "tests.fakes.google_datamanager",
    "tests.fakes.meta_graph",
]
