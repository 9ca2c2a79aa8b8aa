# OncoClass: `make run` sets up and runs the main job, `make test` sets up and runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
#: The current CIViC release in CIViC's own format (the 2021 one beside it is for temporal tests).
SHARED_CIVIC := ../shared/data/civic_2024
MODEL ?= ensemble

.PHONY: setup system-deps run test lint bench clean

$(BIN)/oncoclass: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: the local CPU wheel (anything else pulls GBs of CUDA).
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/oncoclass

setup: $(BIN)/oncoclass

# The browser tests need Debian's chromium, the history tests a PostgreSQL server, the
# load-balancer test nginx; all from Debian's packages (never a browser download). Skipped when
# already there or not root.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium chromium-driver"; \
	[ -x /usr/lib/postgresql/15/bin/initdb ] || missing="$$missing postgresql"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing \
	      >/dev/null; \
	  else echo "not root: install$$missing for the browser, PostgreSQL and load-balancer tests"; \
	  fi; \
	fi

# Get the CIViC data (the local copy of the current release when present, else the newest
# monthly release from CIViC), train the default model once with grouped cross-validation (its
# metrics are printed), then serve it on loopback (no API key needed there; it says so).
run: setup
	@if [ -d $(SHARED_CIVIC) ]; then $(BIN)/oncoclass data fetch civic --from $(SHARED_CIVIC); \
	 else $(BIN)/oncoclass data fetch civic; fi
	$(BIN)/oncoclass train --task clinical-significance --model $(MODEL) --cv 5 --if-missing
	$(BIN)/oncoclass serve

test: setup system-deps
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check oncoclass tests benchmarks
	$(BIN)/ruff format --check oncoclass tests benchmarks

bench: setup
	$(BIN)/python -m benchmarks all

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
include deploy/docker.mk
