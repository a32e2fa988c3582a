# The two commands that matter: `make run` and `make test`. Both start from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
# `make run HOST=0.0.0.0 PORT=8300`: where the server listens. Unless IDPLUS_ISSUER is set, the
# issuer follows them: http://localhost:PORT for a loopback or wildcard HOST (passkeys need a
# host name, not an IP address), else http://HOST:PORT.
HOST ?= 127.0.0.1
PORT ?= 8000
ISSUER_HOST = $(if $(filter 127.% ::1 [::1] 0.0.0.0 :: [::] localhost,$(HOST)),localhost,$(HOST))
IDPLUS_ISSUER ?= http://$(ISSUER_HOST):$(PORT)
RUN_ENV = IDPLUS_ISSUER='$(IDPLUS_ISSUER)'

.PHONY: install run cluster test test-e2e lint format bench bench-cluster profile clean

$(STAMP): pyproject.toml
	@echo "Installing idplus and its dependencies into $(VENV): about a minute, only when pyproject.toml changes..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: install
	@mkdir -p var
	@$(RUN_ENV) $(BIN)/idplus db upgrade >/dev/null
	@$(RUN_ENV) $(BIN)/idplus demo seed >/dev/null
	@$(RUN_ENV) $(BIN)/idplus demo next-steps
	@$(RUN_ENV) exec $(BIN)/idplus serve --host $(HOST) --port $(PORT)

# `make cluster INSTANCES=3 WORKERS=2 PORT=8000`: that many `idplus serve` instances (each with
# WORKERS processes) on one PostgreSQL database behind HAProxy (deploy/README.md).
INSTANCES ?= 2
WORKERS ?= 1
CLUSTER_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/idplus_cluster

cluster: install
	@$(RUN_ENV) $(BIN)/python deploy/cluster.py --instances $(INSTANCES) --workers $(WORKERS) \
		--port $(PORT) --database-url '$(CLUSTER_DATABASE_URL)'

# Test by test over both workers (not file by file): a few large files would otherwise finish
# last on one worker while the other idles.
# Then the multi-instance and fault groups (marker cluster: clusters behind HAProxy, kill -9,
# SIGTERM, a PostgreSQL restart), file by file: each file shares one cluster.
test: lint
	$(BIN)/pytest -n 2 --dist load -m "not e2e"
	$(BIN)/pytest -n 2 --dist loadfile -m cluster

# The other end-to-end groups (marker e2e: tests/flows, tests/browser, the live-server
# modules): real server processes, Chromium, node.
test-e2e: install
	$(BIN)/pytest -n 2 --dist loadfile -m "e2e and not cluster"

lint: install
	$(BIN)/ruff check src tests bench examples deploy
	$(BIN)/ruff format --check src tests bench examples deploy
	$(BIN)/mypy
	$(BIN)/mypy --strict deploy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix src tests bench examples deploy
	$(BIN)/ruff format src tests bench examples deploy

# `make bench` measures SQLite and the machine's PostgreSQL (DB=sqlite or DB=postgres: one) and
# node-oidc-provider beside them when node and tests/interop/node_modules are there.
DB ?= both

bench: install
	$(BIN)/python bench/run.py --database $(DB)

# `make profile DB=postgres`: where one worker spends its time on each hot path (py-spy on the
# event loop under wrk, cProfile on the blocking part in-process); var/bench/profile-<db>.md.
profile: install
	$(BIN)/python bench/profile_paths.py --database $(if $(filter both,$(DB)),sqlite,$(DB))

# Many instances on PostgreSQL: cost at 10^3..10^6 stored rows, and throughput at 1, 2 and 4
# instances behind HAProxy (README "Several instances").
bench-cluster: install
	$(BIN)/python bench/flat_cost.py
	$(BIN)/python bench/cluster_scale.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
