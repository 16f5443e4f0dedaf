# The AIdeator API image: `docker build -t localhost:5005/aideator-api .` (context: repo root).
# gunicorn with one gevent worker (gunicorn.conf.py) on port 8000, as uid 10001, with a
# read-only root filesystem in the chart: the only writable paths are /data (the SQLite
# database, a PersistentVolumeClaim) and /tmp (an emptyDir).
#
# Stages: `base` is everything; `dev` (Tilt: target="dev") only hands /app to the app user so
# Tilt's live_update can sync code into a running container; the last stage, built by a
# plain `docker build`, is the production image.
# The base image by digest: a tag moves under a rebuild, a digest does not. Refresh both
# Dockerfiles together (`docker buildx imagetools inspect python:3.11-slim` prints the
# index digest); tests/deploy/test_dockerfiles.py fails on a FROM without a digest.
# This digest was not read from the registry (no access from where it was written): it is
# the one two public Dockerfiles pin python:3.11-slim to; confirm it before a release.
ARG PYTHON_IMAGE=python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7
FROM ${PYTHON_IMAGE} AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The local runtime's sandbox (bubblewrap, and socat for its bridge to the gateway). Under
# a container engine's default seccomp profile user namespaces are refused: the service
# then says so and starts no agent (the chart runs the Kubernetes runtime, where the pod is
# the sandbox). Not pinned: Debian's stable versions change only for security fixes.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap socat \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, so a code change does not reinstall them: exact versions with hashes
# from requirements.lock (`make lock` writes it from requirements.txt), so two builds a
# month apart get the same packages. The service's own requirements only: the agent SDK
# (`-r agent/requirements.txt`, which bundles the Claude Code CLI) runs in the agent image,
# never in the API container, so the lock leaves it out; the service imports just
# agent/protocol.py, which is pure standard library. The lock carries the PostgreSQL
# driver (psycopg 3) as well.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --require-hashes -r /tmp/requirements.lock \
    && rm /tmp/requirements.lock

COPY wsgi.py gunicorn.conf.py ./
COPY agent/ agent/
COPY aideator/ aideator/

# A fixed, non-root uid (the chart's securityContext runs as it too); no login shell.
RUN groupadd --gid 10001 aideator \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp \
        --shell /usr/sbin/nologin aideator \
    && mkdir -p /data \
    && chown 10001:10001 /data

# Listening on every address, so access control is on: create the first token with
# `flask --app aideator tokens create NAME --admin`, or set AIDEATOR_ADMIN_TOKEN.
ENV AIDEATOR_DATA_DIR=/data \
    AIDEATOR_BIND=0.0.0.0:8000 \
    AIDEATOR_AUTH=required \
    HOME=/tmp
VOLUME ["/data"]
# The API, and Prometheus metrics on a port of their own (AIDEATOR_METRICS_PORT).
EXPOSE 8000 9464
USER 10001:10001

# Docker-level health check for `docker run`; on Kubernetes the chart's probes take over.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=4).status != 200)"]

CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]


# Development (Tilt): the code under /app belongs to the app user so live_update can
# overwrite it; the chart's dev values run gunicorn with --reload and a writable root.
FROM base AS dev
USER 0
RUN chown -R 10001:10001 /app
USER 10001:10001


# Production: the default target of a plain `docker build`.
FROM base AS production
