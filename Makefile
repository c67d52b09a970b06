# The commands people type. `python3 dev.py up|test` work without make too.
PY := .venv/bin/python
PG_URL ?= postgres://root@127.0.0.1:5432/mission_control
REDIS ?= redis://127.0.0.1:6379/0

.PHONY: up test test-services lint fmt migrate demo serve simulate check ci bench lock

up:            ## install, migrate, seed, run everything with a simulated fleet
	python3 dev.py up
test:          ## the whole suite on the embedded default
	python3 dev.py test
test-services: ## the whole suite on PostgreSQL + Redis, failing (not skipping) without them
	DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS) REQUIRE_SERVICES=1 python3 dev.py test
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
fmt:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
migrate:
	$(PY) manage.py migrate
demo:
	$(PY) manage.py demo
serve:
	$(PY) manage.py serve
simulate:
	$(PY) manage.py simulate --url http://127.0.0.1:8000
check:
	$(PY) manage.py makemigrations --check --dry-run && $(PY) manage.py check
bench:
	DATABASE_URL=$(PG_URL) $(PY) -m bench
ci:
	bash .ci/run
lock:          ## re-pin requirements.lock after editing pyproject.toml
	$(PY) -m uv pip compile pyproject.toml --extra dev -o requirements.lock
