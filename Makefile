# redis-ops-kit: one entry point for set-up, demo, tests, lint and benchmarks.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every package of the control node, pinned with its hashes; requirements/control.in says how
# to regenerate it.
LOCK := requirements/control.txt
# Ansible, testinfra and the tests call the venv's tools by name.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: all venv dist demo demo-cluster test test-fast test-lab test-flavors test-matrix lint bench lab-up lab-down clean \
	packages-lab packages-test
all: venv

# The Debian packages each target needs (COMMAND:PACKAGE, see tools/ensure-packages): only the
# missing ones are installed, as root; otherwise the target says what to install.
VENV_PACKAGES := python3:python3 @venv:python3-venv /etc/ssl/certs/ca-certificates.crt:ca-certificates
# The lab: containers, their network and SSH, the guard table, the checks' certificate reads.
LAB_PACKAGES := systemd-nspawn:systemd-container debootstrap:debootstrap ip:iproute2 \
	ssh:openssh-client ssh-keygen:openssh-client nft:nftables openssl:openssl
# The tests besides the lab: real servers on 127.0.0.1, promtool and Prometheus for the alert
# rules and the lab's scrape, Node.js for the ioredis client guide.
TEST_PACKAGES := redis-server:redis-server redis-cli:redis-tools redis-check-rdb:redis-tools \
	promtool:prometheus prometheus:prometheus node:nodejs npm:npm
ENSURE := PYTHON=$(PYTHON) tools/ensure-packages

packages-lab:
	@$(ENSURE) 'the lab' $(LAB_PACKAGES)

packages-test:
	@$(ENSURE) 'the tests' $(TEST_PACKAGES)

# The checkout is the redisops.kit collection; ansible.cfg finds it through this link.
COLLECTION_LINK := .collections/ansible_collections/redisops/kit

venv: $(STAMP) $(COLLECTION_LINK)

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn ../../.. $@

# Rebuilt only when the lock or the project's metadata change: a second 'make' does nothing.
# pip, setuptools and wheel come from the lock too, and the kit is built with those
# (--no-build-isolation), so nothing is installed that the lock has not hash-checked.
$(STAMP): $(LOCK) pyproject.toml
	@$(ENSURE) 'make' $(VENV_PACKAGES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	# setuptools warns on every editable install that a folder named like the package could
	# shadow it; the sources are in checks/ and no such folder exists.
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# What adopters install: the collection (ansible-galaxy collection install) and the wheel (pip),
# also the inputs of execution-environment.yml.
dist: venv
	$(BIN)/ansible-galaxy collection build --force --output-path dist .
	$(BIN)/pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist .

# The whole best-practice set on the lab: servers, sentinels and exporters (site.yml), the backup
# host with its timer and a first backup, the scheduled compliance checks. Rerunning it changes
# nothing.
DEMO_PLAYBOOKS := site backup_timer backup compliance_timer

demo: packages-lab venv
	$(BIN)/redisops lab up
	set -e; for p in $(DEMO_PLAYBOOKS); do $(BIN)/ansible-playbook playbooks/$$p.yml; done
	$(BIN)/redisops lab status
	@echo "Primary according to each sentinel:"
	@$(BIN)/ansible-playbook playbooks/status.yml | grep -E '^(ok: \[[^]]*\] =>|fatal|    - )'
	@echo "Metrics (exporters and node_exporter with the kit's textfiles; rules in monitoring/):"
	@$(BIN)/redisops monitoring targets
	@echo
	@echo "The lab runs the kit's best-practice deployment. Try next:"
	@echo "  $(BIN)/redisops check                                  # every best-practice check, exit 0"
	@echo "  $(BIN)/redisops drill failover --scenario kill-primary # kill the primary, measure"
	@echo "  $(BIN)/redisops drill backup                           # back up, restore elsewhere, compare"

# A Redis Cluster beside the Sentinel lab: 3 more hosts (cluster-1..3) with 2 instances each,
# 3 shards of a primary and a replica on another host (inventories/lab-cluster, cluster.yml).
# Rerunning it changes nothing.
CLUSTER_INVENTORY := inventories/lab-cluster

demo-cluster: packages-lab venv
	$(BIN)/redisops lab up --cluster-hosts 3
	$(BIN)/ansible-playbook -i $(CLUSTER_INVENTORY) playbooks/cluster.yml
	@echo
	@echo "The cluster lab runs 3 shards (the report above: each node, its role and slots). Try next:"
	@echo "  $(BIN)/ansible-playbook -i $(CLUSTER_INVENTORY) playbooks/cluster.yml   # again: changed=0"

# Unit tests first (seconds), then the lab tier on real hosts (ends with 'lab down').
# (--durations: where the lab tier's time goes, printed at its end)
test: packages-lab packages-test venv
	$(BIN)/pytest -m "not lab" tests
	$(BIN)/pytest -m lab --durations=40 tests

test-fast: packages-test venv
	$(BIN)/pytest -m "not lab" tests

test-lab: packages-lab packages-test venv
	$(BIN)/pytest -m lab tests

# Debian 13's servers beside the default lab: Redis 8.0 and Valkey 8.1 on trixie hosts. Each
# gets a lab of its own (one lab per machine); test-flavors runs what every server must pass
# (deploy, idempotent rerun, values read back, checks with no high finding, kill-primary),
# test-matrix the whole lab tier.
LAB_MATRIX := trixie:redis trixie:valkey
define lab_run
	$(BIN)/redisops lab down
	set -e; for combo in $(LAB_MATRIX); do \
	  echo "== lab tier on $${combo%%:*} with $${combo##*:} ($(1))"; \
	  REDISOPS_LAB_IMAGE=$${combo%%:*} REDISOPS_LAB_FLAVOR=$${combo##*:} $(BIN)/pytest -m "$(1)" tests/lab; \
	  $(BIN)/redisops lab down; \
	done
endef

test-flavors: packages-lab packages-test venv
	$(call lab_run,lab and flavors)

test-matrix: packages-lab packages-test venv
	$(BIN)/redisops lab down
	$(BIN)/pytest -m lab tests
	$(call lab_run,lab)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --profile production

bench: packages-test venv
	$(BIN)/python -m bench

lab-up: packages-lab venv
	$(BIN)/redisops lab up

lab-down: venv
	$(BIN)/redisops lab down

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .collections dist
