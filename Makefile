# Every target installs what it needs into a local venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test check format bench clean browser libreoffice

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Sends the sample sheet to the built-in simulator (no key, no credits), follows every video to
# the end and saves the files: review/leads-sent.xlsx gets the ids and statuses, review/videos the
# videos. The plan shows the pre-flight: the account, the looks and voices checked, the cost.
# The sheet has four deliberate mistakes, so submit exits 3 (some rows invalid): expected.
# The simulator lives only as long as the command, so the demo starts afresh each time.
demo: $(STAMP)
	rm -rf review/leads-sent.xlsx review/leads-sent.xlsx.journal* review/leads-sent.xlsx.preflight.json review/leads-sent.xlsx.simulator.json review/videos
	$(VENV)/bin/avatar-merge submit sample_data/leads.xlsx templates/outreach.json \
	  -o review/leads-sent.xlsx --simulate --yes --wait --poll 1 --download review/videos || [ $$? -eq 3 ]

# The review page's tests drive Debian's Chromium (Playwright's own browser download does not work
# here). Install it when it is missing and apt-get can; where it cannot, those tests skip and say
# why, except under CI=true, where they fail.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq >/dev/null 2>&1 \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; } \
	  || echo "note: chromium is not installed and could not be; the browser tests will skip"

# The sheet tests compare cells with what LibreOffice displays (soffice --convert-to csv).
# Installed like Chromium: only when missing and apt-get can; elsewhere those tests skip and say
# why, except under CI=true, where they fail.
libreoffice:
	@command -v soffice >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && apt-get update -qq >/dev/null 2>&1 \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-calc-nogui >/dev/null 2>&1; } \
	  || echo "note: LibreOffice is not installed and could not be; the display tests will skip"

test: $(STAMP) browser libreoffice
	$(PY) -m pytest -n 2 -q

check: $(STAMP) browser libreoffice
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
