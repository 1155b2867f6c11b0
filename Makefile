# Two commands for a new machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench clean locales

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	touch $(STAMP)

run: install
	$(PY) bot.py db upgrade
	$(PY) bot.py run

# Python's default: modules compiled once, into __pycache__ (ignored by git). Where the
# environment says otherwise, every bot.py process a test starts would compile them again.
unexport PYTHONDONTWRITEBYTECODE

# pytest-xdist workers, one per core here. `--dist loadgroup` runs the tests marked
# xdist_group("serial") on one worker, one after another. A worker ended by pytest-timeout
# ends the run: loadgroup would hand the hung test to every replacement worker in turn.
TEST_WORKERS ?= 2

test: install
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m mypy
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --max-worker-restart=0 --durations=15

lint: install
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports --no-cache

bench: install
	$(PY) bench/units_import.py
	$(PY) bench/telegram_inbound.py
	$(PY) bench/reminder_wave.py
	$(PY) bench/cascade.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

locales: install
	$(PY) tools/update_locales.py
