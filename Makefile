# Two commands do everything from a fresh clone:  make demo  |  make test
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup system lint bench clean

demo: setup
	$(BIN)/gisefficiency demo --out maps/sample

test: setup system
	$(BIN)/ruff check gisefficiency tests benchmarks
	$(BIN)/python -m pytest -n 2 -q

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

# Headless Chromium and CJK fonts for the browser tests (and matplotlib's Chinese labels); PostgreSQL with
# PostGIS for the database tests (the tests start a throwaway server of their own, as the `postgres` user
# when run as root). All from Debian's packages; postgresql-postgis follows Debian's default PostgreSQL.
system:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' \
		|| ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			chromium fonts-noto-cjk postgresql postgresql-postgis >/dev/null; \
	fi

lint:
	$(BIN)/ruff check gisefficiency tests benchmarks

# The 100k-parcel comparison (ours beside the analyst's chain); BENCH_ARGS="--province" adds 1M parcels,
# "--province --no-city --no-analyst" runs 1M alone, "--runs 5" more runs per case (benchmarks/run.py --help).
BENCH_ARGS ?=
bench: setup
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) maps/*.html maps/*/ build
