# make run   - the service on http://localhost:8000 (local runtime, SQLite in ./data)
# make test  - install what the tests need, then run them
# make bench - throughput, latency and memory figures of the event path
# make demo  - an offline run of three real agents against a fake model (no API key)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench demo clean

$(STAMP): requirements.txt requirements-dev.txt agent/requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.event_path

demo: $(STAMP)
	$(BIN)/python scripts/offline_demo.py

clean:
	rm -rf $(VENV) data .pytest_cache
