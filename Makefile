# Two commands a newcomer needs: `make demo` and `make test`.
# Everything else is installed on the way, into .venv (Python 3.13, as on Lambda).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON313 ?= $(shell command -v python3.13 2>/dev/null)

.PHONY: demo test test-all lint typecheck build clean bench checkov asl-validator soak

$(VENV)/.installed: pyproject.toml
	@if [ ! -x $(PY) ]; then \
	  PYENV_VERSION=3.13.0 $(or $(PYTHON313),python3.13) -m venv $(VENV) || { echo "Python 3.13 is required (pyenv: PYENV_VERSION=3.13.0 python3.13)"; exit 1; }; \
	fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/rostersync demo

# One worker per core, at least two (pytest-xdist: each has its own moto server and sandboxes).
# Since every fault test runs its nights through the state machine runner the run takes 10-15
# minutes on two cores (2026-12-05); more cores shorten it.
# Statement and branch coverage of the runtime package (layers/rostersync/rostersync and functions/,
# [tool.coverage.run] in pyproject.toml); fails under the floors there.
COVERAGE_JSON := .coverage-report.json
TEST_WORKERS := $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 2 ] && echo $$n || echo 2)
test: $(VENV)/.installed lint asl-validator
	$(VENV)/bin/pytest -n $(TEST_WORKERS) -m "not slow" --cov --cov-report=term --cov-report=json:$(COVERAGE_JSON)
	$(PY) scripts/coverage_floor.py $(COVERAGE_JSON)

# Everything, the slow multi-night suites included (about 17 minutes on two cores).
test-all: $(VENV)/.installed lint asl-validator
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --cov --cov-report=term --cov-report=json:$(COVERAGE_JSON)
	$(PY) scripts/coverage_floor.py $(COVERAGE_JSON)

# The ASL validator tests/unit/test_state_machine_definition.py runs (npm; best effort here,
# the test installs it itself when npm is there).
asl-validator:
	@[ -x .tools/node/node_modules/.bin/asl-validator ] || npm install --prefix .tools/node --no-save --silent asl-validator@3.16.0 \
		|| echo "npm could not install asl-validator; the test falls back to moto's ASL parser"

# Random fault schedules (tests/integration/test_fault_schedules.py): `make soak N=1000` runs N
# schedules (Hypothesis examples) split between SOAK_WORKERS processes, each with its own embedded
# AWS and sandboxes, and prints schedules run, faults injected by kind, invariant checks and
# violations (.soak-summary.txt; each shard's counts in .soak/, written after every schedule, so a
# long soak can be watched with `python -m tests.integration.soak_summary .soak`). `make test` runs
# the default budget of the same property.
N ?= 1000
SOAK_WORKERS ?= $(TEST_WORKERS)
soak: $(VENV)/.installed
	@rm -rf .soak .soak-summary.txt
	SOAK_SCHEDULES=$(N) SOAK_SHARDS=$(SOAK_WORKERS) SOAK_DIR=.soak $(VENV)/bin/pytest \
		tests/integration/test_fault_schedules.py -k test_soak -m slow -n $(SOAK_WORKERS) \
		-p no:cacheprovider -q --show-capture=no > .soak.log 2>&1; \
		status=$$?; $(PY) -m tests.integration.soak_summary .soak > .soak-summary.txt; \
		cat .soak-summary.txt; cat .soak/*.violations.txt 2>/dev/null; tail -3 .soak.log; exit $$status

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/bandit -q -r layers/rostersync/rostersync functions
	$(VENV)/bin/mypy layers/rostersync/rostersync functions src

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy layers/rostersync/rostersync functions src

bench: $(VENV)/.installed
	$(PY) benchmarks/run.py

# sam-cli pins boto3 exactly, so it lives in its own environment.
.tools/.installed:
	PYENV_VERSION=3.13.0 $(or $(PYTHON313),python3.13) -m venv .tools
	.tools/bin/pip install -q aws-sam-cli
	@touch $@

build: .tools/.installed $(VENV)/.installed
	source $(VENV)/bin/activate && ../$(notdir $(CURDIR))/.tools/bin/sam build

clean:
	rm -rf $(VENV) .tools .aws-sam .pytest_cache .mypy_cache .ruff_cache .coverage .coverage-report.json

# checkov lives in its own throwaway environment (see scripts/checkov.sh).
checkov:
	bash scripts/checkov.sh
