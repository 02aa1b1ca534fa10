# syntax=docker/dockerfile:1
# Two images from one file (docker-compose.yml builds both):
#   web    - the Dash app under gunicorn, and flower; no torch (the web never imports it)
#   worker - Celery workers with torch (CPU wheels by default; TORCH_INDEX=.../cu128 for the GPU worker)
ARG PYTHON=3.11

FROM python:${PYTHON}-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HOME=/data/hf INTERPBOARD_CACHE=/data/results
RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 interpboard \
    && mkdir -p /data/hf /data/results && chown -R interpboard /data
WORKDIR /app
COPY pyproject.toml README.md ./

FROM base AS web
# The project's dependencies minus the engine's (torch and friends), read from pyproject.toml so the
# two images never disagree on versions; huggingface_hub lets the registry fingerprint cached Hub models.
RUN python - > /tmp/web-requirements.txt <<'PY'
import re, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
engine_only = {"torch", "transformers", "captum"}  # tokenizers stays: the web checks requests with it
for dep in project["dependencies"] + project["optional-dependencies"]["deploy"] + ["huggingface_hub", "jsonschema"]:
    if re.split(r"[\s<>=!~\[;]", dep, maxsplit=1)[0].lower() not in engine_only:
        print(dep)
PY
RUN pip install -r /tmp/web-requirements.txt
COPY interp interp
COPY cache cache
COPY workers workers
COPY dashapp dashapp
# What gunicorn and flower load must come up without the engine (torch is not even installed here).
RUN pip install --no-deps . \
    && INTERPBOARD_BROKER=redis://build-check python -c "import sys, dashapp.wsgi, workers.app; assert 'torch' not in sys.modules"
USER interpboard
EXPOSE 8050 5555
CMD ["gunicorn", "dashapp.wsgi:server", "--config", "python:dashapp.gunicorn_conf", "--workers", "4", "--worker-class", "gthread", "--threads", "4", "--bind", "0.0.0.0:8050", "--timeout", "60", \
     "--access-logfile", "-", "--access-logformat", "%(h)s %(u)s %(t)s \"%(m)s %(U)s %(H)s\" %(s)s %(b)s %(M)sms"]

FROM base AS worker
ARG TORCH=torch==2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# torch first, from its own index, so pip never swaps in a CUDA build for the CPU image.
RUN pip install "$TORCH" --index-url "$TORCH_INDEX"
COPY interp interp
COPY cache cache
COPY workers workers
COPY dashapp dashapp
RUN pip install ".[deploy,demo]" jsonschema
USER interpboard
CMD ["interpboard", "worker", "--queues", "cpu", "--concurrency", "2"]
