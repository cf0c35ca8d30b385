# The two commands of the README: `make demo` (a real Airflow run on the embedded default) and
# `make test` (the whole suite against real MariaDB, PostgreSQL, SeaweedFS S3 and Chromium).
.PHONY: setup services demo test lint bench

setup:
	./scripts/setup.sh

services:
	./scripts/services.sh

demo: setup
	.venv/bin/python scripts/demo.py

test: setup services lint
	.venv/bin/python -m pytest -q $(PYTEST_ARGS)

lint: setup
	.venv/bin/ruff check plugins dags tests bench scripts
	.venv/bin/ruff check --select AIR dags plugins

bench: setup services
	.venv/bin/python -m bench --sizes 100000,1000000 --naive-sizes 100000
