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

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest -q

lint: install
	$(PY) -m ruff check .

bench: install
	$(PY) bench/units_import.py
	$(PY) bench/telegram_inbound.py
	$(PY) bench/reminder_wave.py
	$(PY) bench/cascade.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

locales: install
	$(PY) tools/update_locales.py
