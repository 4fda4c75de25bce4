# kickwatch: set-up, demo, tests and benchmarks. Every target installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := demo

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	./scripts/system-deps.sh base
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

## demo: simulate a night, run the daemon on it at full speed, show the night
demo: $(STAMP)
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/kickwatch simulate $(DEMO)/night.npz --hours 8 --seed 7 --profile piezo12
	$(BIN)/kickwatch run --source $(DEMO)/night.npz --speed max --db $(DEMO)/kickwatch.db
	$(BIN)/kickwatch night --db $(DEMO)/kickwatch.db

## test: the whole test suite
test: $(STAMP)
	./scripts/system-deps.sh test
	$(BIN)/python -m pytest

## bench: detection quality and speed figures
bench: $(STAMP)
	$(BIN)/python -m bench.detection

clean:
	rm -rf $(VENV) $(DEMO) test-artifacts
