# `make test`: its own virtualenv, the project with its test extra, lint, then the suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

# Some machines set PYTHONDONTWRITEBYTECODE=1 for everything. The suite starts `fab` and the sandbox in subprocesses
# and pytest starts a worker per core: without cached bytecode, every one of them compiles `tasks/` and `sandbox/`
# again and every worker rewrites every test module's assertions again (seconds of CPU per run).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: test lint install clean docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest -q

# the table of config keys in docs/configuration.md, written from tasks/core/schema.py (a test keeps them equal)
docs: install
	$(BIN)/python -c 'from tasks.core.schema import write_table; write_table("docs/configuration.md")'

# `make demo [SCENARIO=migration-fails|rollout-fails|tasks-stop]`: a real `fab deploy` against the local
# sandbox (sandbox/demo.py). Exits 0 when the deploy ended as the scenario means it to, fault scenarios
# included (fab itself exits 1 there); `make sandbox` runs the sandbox in the foreground for trying by hand.
SCENARIO ?= success

.PHONY: demo sandbox

demo: install
	$(BIN)/python -m sandbox.demo --scenario $(SCENARIO)

sandbox: install
	$(BIN)/python -m sandbox --scenario $(SCENARIO)

# `make bench`: the benchmark (bench/): `fab` against the sandbox, side by side with the AWS CLI and
# ecs-deploy; prints the tables and writes bench/results.json. About 8 minutes; not part of `make test`.
.PHONY: bench

$(VENV)/.bench-installed: pyproject.toml | $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

bench: install $(VENV)/.bench-installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) reports .pytest_cache
