# The few commands the README names. Each one installs and starts what it needs.
.PHONY: run test unit bench lint setup migrate frontend frontend-test

UV ?= uv
PYTEST_ARGS ?=

setup:
	@bash scripts/ensure-services.sh
	@$(UV) sync --frozen --quiet

## run: LAF on this machine at http://127.0.0.1:8000 (Ctrl-C stops it)
run: frontend
	@$(UV) run --frozen python scripts/dev.py

## frontend: build frontend/dist (npm ci when node_modules is missing; a build only when stale)
frontend: setup
	@$(UV) run --frozen bash scripts/build-frontend.sh

## frontend-test: the frontend's unit tests (Vitest)
frontend-test: setup
	@if [ ! -d frontend/node_modules ] || [ frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]; then \
		$(UV) run --frozen npm --prefix frontend ci --no-audit --no-fund --loglevel=error; fi
	@$(UV) run --frozen npm --prefix frontend test --silent -- --run

## test: every test (frontend unit tests, then unit, integration, end-to-end, fault
## injection and browser tests) against real PostgreSQL, RabbitMQ and Chromium
test: setup frontend-test
	@$(UV) run --frozen pytest $(PYTEST_ARGS)

## unit: only the tests that need no servers
unit:
	@$(UV) run --frozen pytest tests/unit $(PYTEST_ARGS)

## bench: speed figures of the running system (see README)
bench: setup
	@$(UV) run --frozen python scripts/bench.py $(BENCH_ARGS)

## lint: the boundaries and types CI holds: ruff, import-linter contracts, mypy --strict
## over services/, and the frontend's tsc --noEmit
lint: setup
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check --quiet services
	@$(UV) run --frozen lint-imports --no-cache
	@$(UV) run --frozen mypy services/*/src
	@if [ ! -d frontend/node_modules ] || [ frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]; then \
		$(UV) run --frozen npm --prefix frontend ci --no-audit --no-fund --loglevel=error; fi
	@$(UV) run --frozen npm --prefix frontend run --silent typecheck

migrate: setup
	@$(UV) run --frozen laf-migrate --create
