# redis-ops-kit: one entry point for set-up, demo, tests, lint and benchmarks.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Ansible, testinfra and the tests call the venv's tools by name.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: all venv demo test test-fast test-lab lint bench lab-up lab-down clean
all: venv

venv: $(STAMP)

# Rebuilt only when the pinned dependencies change: a second 'make' does nothing.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[control,dev]'
	touch $@

demo: venv
	$(BIN)/redisops lab up
	$(BIN)/ansible-playbook playbooks/site.yml
	$(BIN)/redisops lab status
	@echo "Primary according to each sentinel:"
	@$(BIN)/ansible-playbook playbooks/status.yml | grep -E '^(ok: \[[^]]*\] =>|fatal|    - )'
	@echo "Metrics (exporters and node_exporter with the kit's textfiles; rules in monitoring/):"
	@$(BIN)/redisops monitoring targets

# Unit tests first (seconds), then the lab tier on real hosts (ends with 'lab down').
test: venv
	$(BIN)/pytest -m "not lab" tests
	$(BIN)/pytest -m lab tests

test-fast: venv
	$(BIN)/pytest -m "not lab" tests

test-lab: venv
	$(BIN)/pytest -m lab tests

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --profile production

bench: venv
	$(BIN)/python -m bench

lab-up: venv
	$(BIN)/redisops lab up

lab-down: venv
	$(BIN)/redisops lab down

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
