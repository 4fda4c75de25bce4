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

PORT ?= 8080
## demo: simulate a night, run the daemon on it at full speed, show it, serve the dashboard
demo: $(STAMP)
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/kickwatch simulate $(DEMO)/night.npz --hours 8 --seed 7 --profile piezo12
	$(BIN)/kickwatch run --source $(DEMO)/night.npz --speed max --db $(DEMO)/kickwatch.db
	$(BIN)/kickwatch night --db $(DEMO)/kickwatch.db
	$(BIN)/kickwatch config > $(DEMO)/kickwatch.toml.example
	printf '[web]\nrequests_dir = "$(DEMO)/requests"\nsecret_file = "$(DEMO)/web-secret"\npin_file = "$(DEMO)/pin"\n' > $(DEMO)/kickwatch.toml
	$(BIN)/python -c "from werkzeug.security import generate_password_hash as h; open('$(DEMO)/pin','w').write(h('1234'))"
	@echo "The demo's household PIN is 1234."
	$(BIN)/kickwatch web --config $(DEMO)/kickwatch.toml --db $(DEMO)/kickwatch.db --port $(PORT)

## test: the whole test suite
test: $(STAMP)
	./scripts/system-deps.sh test
	$(BIN)/python -m pytest

## bench: detection quality and speed figures, heart and breathing, robustness to a world unlike the model, the dashboard's page times, and the sampling loop while publishing over MQTT
bench: $(STAMP)
	./scripts/system-deps.sh bench
	$(BIN)/python -m bench.detection
	$(BIN)/python -m bench.sleepers
	$(BIN)/python -m bench.vitals
	$(BIN)/python -m bench.robustness
	$(BIN)/python -m bench.web
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.month
	$(BIN)/python -m bench.mqtt

clean:
	rm -rf $(VENV) $(DEMO) test-artifacts
