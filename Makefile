# Two commands on a fresh machine: `make run` (the demo on SQLite) and `make test`.
# Each creates the virtual environment and installs what it needs on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install translations extract bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "pb needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) translations

# .mo files are built, never committed.
translations: $(STAMP)
	@if ls translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(BIN)/pybabel compile -d translations >/dev/null; fi

extract: $(STAMP)
	$(BIN)/pybabel extract -F pyproject.toml -k _l -o messages.pot pb templates
	$(BIN)/pybabel update -i messages.pot -d translations

# Serves http://127.0.0.1:5000 with the demo data. Plain HTTP on this machine only,
# so the cookies may not require HTTPS here.
run: install
	$(BIN)/pb db upgrade
	$(BIN)/pb demo --if-empty
	PB_SESSION_COOKIE_SECURE=false PB_REMEMBER_COOKIE_SECURE=false \
		$(BIN)/pb run --host 127.0.0.1 --port 5000

# On every core (pytest-xdist); PYTEST_ARGS="-n 0" runs in one process.
test: install
	$(BIN)/pytest -n auto $(PYTEST_ARGS)

# Benchmarks print figures; bench/cast.py needs wrk (Debian: apt-get install wrk).
bench: install
	$(BIN)/python bench/tally.py --quick
	$(BIN)/python bench/cast.py
	$(BIN)/python bench/results.py
	$(BIN)/python bench/pageweight.py
	$(BIN)/python bench/timing.py

clean:
	rm -rf $(VENV) instance .pytest_cache
	find translations -name '*.mo' -delete
