# capflow: every target sets up what it needs. `make reports` and `make test` are the two commands a new user runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export MPLBACKEND := Agg

.PHONY: setup reports test lab bench clean kernel

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (capflow)" >/dev/null
	touch $(STAMP)

## Run every report in reports.yaml (online by default; offline on the embedded data/snapshot when CAPFLOW_OFFLINE
## is set or the network is unreachable; CAPFLOW_SNAPSHOT=DIR uses another snapshot folder).
reports: $(STAMP)
	$(BIN)/capflow run --all --jobs 2

## Run the whole test suite (unit, data layer, statistics, notebooks, reports, browser).
test: $(STAMP)
	$(BIN)/python -m pytest -q

## JupyterLab with the project's kernel; notebooks open and run as they are.
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

## Speed and memory benchmarks: one table (area, figure, value, target, met), offline on the embedded snapshot.
## BENCH_ARGS: --quick (smaller sizes), --only NAME, --with-tests (also time the whole test suite).
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) reports/*.html reports/runs .pytest_cache
