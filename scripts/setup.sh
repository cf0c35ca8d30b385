#!/usr/bin/env bash
# Installs what SNA needs on a fresh Debian machine: the apt build packages (mysqlclient compiles
# from source), a virtualenv in .venv and the pinned requirements. Idempotent: a second run only
# checks.
#
# SNA_SETUP chooses the set (default: dev):
#   runtime  requirements.txt and the package: what `make demo` needs (no browser, no test tools)
#   dev      requirements-dev.txt (runtime + test and benchmark tools), Debian's Chromium for the
#            browser tests and Debian's redis-server (the Celery broker of the distributed test,
#            started by the test itself): what `make test`, `make lint` and `make bench` need
# SNA_WITH_BROWSER=0|1 overrides whether Chromium is installed (default: only for dev).
set -euo pipefail
cd "$(dirname "$0")/.."

SETUP="${SNA_SETUP:-dev}"
case "$SETUP" in
  runtime) REQUIREMENTS=requirements.txt; BROWSER=0 ;;
  dev) REQUIREMENTS=requirements-dev.txt; BROWSER=1 ;;
  *) echo "setup: SNA_SETUP must be runtime or dev (got '$SETUP')" >&2; exit 2 ;;
esac
BROWSER="${SNA_WITH_BROWSER:-$BROWSER}"

APT_PACKAGES=(pkg-config default-libmysqlclient-dev build-essential)
if [ "$SETUP" = dev ]; then APT_PACKAGES+=(redis-server); fi
if [ "$BROWSER" = "1" ]; then APT_PACKAGES+=(chromium chromium-driver); fi

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing apt packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi

# The stamp names the set installed and the digest of its files: "runtime <sha>" or "dev <sha>".
# The dev set holds the runtime set, so a current dev stamp satisfies a runtime setup; a runtime
# stamp never satisfies a dev setup (`make test` after `make demo` installs the test tools).
digest() { cat "$@" pyproject.toml | sha256sum | cut -d' ' -f1; }
runtime_stamp="runtime $(digest requirements.txt)"
dev_stamp="dev $(digest requirements.txt requirements-dev.txt)"
stamp=.venv/.requirements.sha256
current=$(cat "$stamp" 2>/dev/null || true)
if [ "$SETUP" = dev ]; then wanted=$dev_stamp; else wanted=$runtime_stamp; fi
if [ "$current" != "$wanted" ] && { [ "$SETUP" = dev ] || [ "$current" != "$dev_stamp" ]; }; then
  echo "setup: installing the $SETUP requirements ($REQUIREMENTS) into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$REQUIREMENTS"
  .venv/bin/python -m pip install -q --no-deps -e .
  .venv/bin/python -m pip check
  echo "$wanted" > "$stamp"
fi
