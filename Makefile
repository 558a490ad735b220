# Two commands do all set-up on a fresh clone:
#   make quickstart   -- the main job
#   make test         -- the test suite (what CI runs)
# Both create .venv idempotently; torch is pinned to the CPU build first so nothing pulls CUDA.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.polyglot-installed

.PHONY: install quickstart test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

quickstart: $(STAMP)
	$(BIN)/polyglot quickstart

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check polyglot tests scripts
	$(BIN)/ruff format --check polyglot tests scripts

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
