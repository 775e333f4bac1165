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

# Sends the sample sheet to the built-in simulator (no key, no credits), follows every video to
# the end and saves the files: review/leads-sent.xlsx gets the ids and statuses, review/videos the
# videos. The sheet has four deliberate mistakes, so submit exits 3 (some rows invalid): expected.
# The simulator lives only as long as the command, so the demo starts afresh each time.
demo: $(STAMP)
	rm -rf review/leads-sent.xlsx review/leads-sent.xlsx.journal* review/videos
	$(VENV)/bin/avatar-merge submit sample_data/leads.xlsx templates/outreach.json \
	  -o review/leads-sent.xlsx --simulate --yes --wait --poll 1 --download review/videos || [ $$? -eq 3 ]

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
