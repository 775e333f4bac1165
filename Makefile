# Every target installs what it needs into a local venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test check format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Sends the sample sheet to the built-in simulator (no key, no credits) and writes the ids into
# review/leads-sent.xlsx. The sheet has four deliberate mistakes, so submit exits 3 (some rows
# invalid): expected. Running it again resumes: rows with a video_id are never sent twice.
demo: $(STAMP)
	$(VENV)/bin/avatar-merge submit sample_data/leads.xlsx templates/outreach.json \
	  -o review/leads-sent.xlsx --simulate --yes || [ $$? -eq 3 ]

test: $(STAMP)
	$(PY) -m pytest -n 2 -q

check: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -n 2 -q

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) review .pytest_cache .mypy_cache .ruff_cache build *.egg-info
