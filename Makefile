# Two commands on a fresh machine: `make run` (the demo on SQLite) and `make test`.
# Each creates the virtual environment (.venv) and installs what it needs on first use:
# `make run` only what serving needs, `make test` the test tools too (pyproject.toml's [test]
# extra), each package at the exact version constraints.txt gives.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints.txt
PIP_INSTALL := $(BIN)/python -m pip install --quiet --constraint $(CONSTRAINTS)
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
# Where `make run` serves: `make run PORT=8000`. Set on make's command line only (a HOST or
# PORT in the environment is ignored), and keep HOST on this machine: the cookies it uses
# are sent over plain HTTP.
HOST = 127.0.0.1
PORT = 5000

.PHONY: run test lint imports install install-run install-test translations extract bench constraints clean

$(VENV)/pyvenv.cfg:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "pb needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

# One environment, two stamps: serving's packages, then the test tools on top. Both are
# installed again when pyproject.toml or constraints.txt changes.
$(RUN_STAMP): pyproject.toml $(CONSTRAINTS) | $(VENV)/pyvenv.cfg
	$(PIP_INSTALL) --upgrade pip
	$(PIP_INSTALL) -e .
	touch $@

$(TEST_STAMP): $(RUN_STAMP)
	$(PIP_INSTALL) -e '.[test]'
	touch $@

install-run: $(RUN_STAMP) translations
install-test: $(TEST_STAMP) translations
install: install-test

# .mo files are built, never committed.
translations: $(RUN_STAMP)
	@if ls translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(BIN)/pybabel compile -d translations >/dev/null; fi

extract: $(RUN_STAMP)
	$(BIN)/pybabel extract -F pyproject.toml -k _l -k lazy_pgettext:1c,2 -o messages.pot pb templates
	$(BIN)/pybabel update -i messages.pot -d translations

# Serves http://$(HOST):$(PORT) (http://127.0.0.1:5000 unless told) with the demo data.
# Plain HTTP on this machine only, so the cookies may not require HTTPS here.
run: install-run
	$(BIN)/pb db upgrade
	$(BIN)/pb demo --if-empty
	PB_SESSION_COOKIE_SECURE=false PB_REMEMBER_COOKIE_SECURE=false \
		$(BIN)/pb run --host $(HOST) --port $(PORT)

# On every core (pytest-xdist); PYTEST_ARGS="-n 0" runs in one process. Worksteal: a worker
# that runs out takes tests still queued on the other, so the slow ones (the browser tests,
# the install drill) do not leave one core idle at the end.
test: install-test
	$(BIN)/pytest -n auto --dist worksteal $(PYTEST_ARGS)

# The layers pb is built in (pyproject.toml's [tool.importlinter]): no domain imports one
# above it, nothing but the web imports the web, and pb.tally stands alone.
imports: install-test
	$(BIN)/lint-imports

# The checks CI runs before the tests, each to the end so that one run shows every finding
# (settings in pyproject.toml; .pre-commit-config.yaml runs the same at each commit).
# `$(BIN)/ruff format .` rewrites what the format check refuses.
lint: install-test
	status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/mypy || status=1; \
	$(BIN)/lint-imports || status=1; \
	exit $$status

# Benchmarks print figures; bench/cast.py needs wrk (Debian: apt-get install wrk).
bench: install-test
	$(BIN)/python bench/tally.py --quick
	$(BIN)/python bench/cast.py
	$(BIN)/python bench/results.py
	$(BIN)/python bench/pageweight.py
	$(BIN)/python bench/timing.py

# Remakes constraints.txt: every package that pb and its tests install (direct and
# transitive, and pip itself), at the version pip picks today within pyproject.toml's
# bounds, in a new environment of its own (.venv is left alone). To update: `make
# constraints`, then `make test` (which re-installs from the new file), and commit both.
# To move one package only, edit its line by hand.
constraints:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "pb needs Python 3.11 or newer")'
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	echo "resolving pyproject.toml in $$tmp/venv"; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$tmp/venv/bin/python" -m pip install --quiet -e '.[test]'; \
	{ echo "# The exact version of every package pb installs, serving and tests, direct and transitive,"; \
	  echo "# resolved from pyproject.toml's bounds on Python $$("$$tmp/venv/bin/python" -c 'import platform; print(platform.python_version())'). make and CI install with"; \
	  echo "# 'pip install --constraint constraints.txt'. Made by 'make constraints': run it to update,"; \
	  echo "# then 'make test', and commit this file with any change to pyproject.toml."; \
	  "$$tmp/venv/bin/python" -m pip freeze --all --exclude-editable --exclude setuptools --exclude wheel; \
	} > $(CONSTRAINTS).new; \
	mv $(CONSTRAINTS).new $(CONSTRAINTS); \
	echo "wrote $(CONSTRAINTS): $$(grep -vc '^#' $(CONSTRAINTS)) packages"

clean:
	rm -rf $(VENV) instance .pytest_cache
	find translations -name '*.mo' -delete
