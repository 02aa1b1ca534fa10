# The two commands of the README: `make run` and `make test`.
# Both create or refresh the virtualenv at .venv (torch first, CPU wheel, so pip never pulls CUDA).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TORCH  ?= torch==2.13.0
HOST   ?= 127.0.0.1
PORT   ?= 8050

.PHONY: run test venv system-deps redis bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[test,demo,deploy]"
	touch $(STAMP)

# Debian packages the browser tests need; installed only when missing.
system-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver)
	@command -v redis-server >/dev/null || \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server)

# Start a local Redis when none answers on 127.0.0.1:6379; fail loudly if that does not work.
redis:
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { \
	  mkdir -p /tmp/interpboard-redis && \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
	    --dir /tmp/interpboard-redis --logfile /tmp/interpboard-redis/redis.log && sleep 1; }
	@redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG || { echo "Redis is not answering on 127.0.0.1:6379" >&2; exit 1; }

run: venv
	$(VENV)/bin/interpboard serve --host $(HOST) --port $(PORT)

test: venv system-deps redis
	$(PY) -m pytest -q

bench: venv
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
