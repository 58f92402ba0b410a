# liftlab: `make demo` runs every demo plan end to end; `make test` runs the linters and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck lab install clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# An editable install compiles none of liftlab's modules; compiling them once spares every
# process (a report's worker and kernel) compiling them again where Python writes no bytecode.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q lib
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/liftlab simulate --out data
	$(BIN)/liftlab report experiments/*.yaml --jobs 2

test: $(STAMP)
	$(BIN)/ruff check lib tests notebooks benchmarks
	$(BIN)/ruff format --check lib tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check --fix lib tests notebooks benchmarks
	$(BIN)/ruff format lib tests benchmarks

# JupyterLab at the project root with the explore notebook open; the demo data made first if missing.
# (As root, in a container, JupyterLab refuses to start without --allow-root.)
lab: $(STAMP)
	test -f data/shop.duckdb || $(BIN)/liftlab simulate --out data
	$(BIN)/jupyter lab --ServerApp.root_dir=. $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/explore.ipynb

# Every script in benchmarks/, one after another; each prints its own figures.
bench: $(STAMP)
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) reports data
