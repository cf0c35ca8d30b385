# The two commands of the README: `make demo` (a real Airflow run on the embedded default) and
# `make test` (the whole suite against real MariaDB, PostgreSQL, SeaweedFS S3 and Chromium).
# `make demo` installs only the runtime requirements (no browser, no test tools); `make test`,
# `make lint` and `make bench` install everything (scripts/setup.sh, SNA_SETUP=runtime|dev).
.PHONY: setup setup-runtime services demo test lint bench

setup:
	SNA_SETUP=dev ./scripts/setup.sh

setup-runtime:
	SNA_SETUP=runtime ./scripts/setup.sh

services:
	./scripts/services.sh

demo: setup-runtime
	.venv/bin/python scripts/demo.py

test: setup services lint
	.venv/bin/python -m pytest -q $(PYTEST_ARGS)

lint: setup
	.venv/bin/ruff check plugins dags tests bench scripts
	.venv/bin/ruff check --select AIR dags plugins

bench: setup services
	.venv/bin/python -m bench --sizes 100000,1000000,5000000 --naive-sizes 100000
