# The commands of the README: `make run`, `make test` (what CI runs), `make test-fast` (the edit loop), `make lint`.
# All create or refresh the virtualenv at .venv (torch first, CPU wheel, so pip never pulls CUDA).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TORCH  ?= torch==2.13.0
HOST   ?= 127.0.0.1
PORT   ?= 8050

.PHONY: run test test-fast lint venv system-deps redis bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[test,demo,deploy]"
	touch $(STAMP)

# Debian packages the browser, Redis and proxy tests need (nginx: deploy/nginx.conf); installed only when missing.
system-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)
	@command -v redis-server >/dev/null || \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server)
	@test -x /usr/sbin/nginx || \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light)

# Start a local Redis when none answers on 127.0.0.1:6379; fail loudly if that does not work.
redis:
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { \
	  mkdir -p /tmp/interpboard-redis && \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
	    --dir /tmp/interpboard-redis --logfile /tmp/interpboard-redis/redis.log && sleep 1; }
	@redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG || { echo "Redis is not answering on 127.0.0.1:6379" >&2; exit 1; }

run: venv
	$(VENV)/bin/interpboard serve --host $(HOST) --port $(PORT)

# The layering contracts (pyproject.toml [tool.importlinter]) and ruff's lint and format checks.
lint: venv
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: venv system-deps redis lint
	$(PY) -m pytest -q

# No browser and no Celery worker, gunicorn, flower or redis-server processes (the shared Redis stays).
test-fast: venv redis
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -m "not browser and not processes"

bench: venv
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
