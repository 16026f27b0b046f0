# policykb: the commands the README names.
PYTHON ?= python3
DATA_DIR ?= ./data
export POLICYKB_DATA_DIR ?= $(DATA_DIR)

.PHONY: install native run ingest serve test lint format check clean loadtest es-start es-stop

install:  ## install policykb and the test tools into the current Python
	$(PYTHON) -m pip install -q -e ".[test]"

native:  ## the optional native passage reader (native/, Rust): built when cargo is here
	@if command -v cargo >/dev/null 2>&1; then \
		$(PYTHON) -m pip install -q ./native; \
	else \
		echo "native: cargo not found; the embedded engine reads passages in Python (same answers)"; \
	fi

ingest: install  ## ingest the sample corpus into $(DATA_DIR)
	policykb ingest --quiet corpus/sample

run: ingest  ## install, ingest corpus/sample, serve on http://127.0.0.1:5000
	policykb serve

serve:
	policykb serve

lint:  ## ruff lint and format check, import directions (import-linter, pyproject.toml)
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	PYTHONPATH=.$${PYTHONPATH:+:$$PYTHONPATH} lint-imports

format:
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

test: install native lint  ## lint, then the whole test suite
	$(PYTHON) -m pytest -q

loadtest:  ## 60 s wrk load on gunicorn, alone and during a re-index loop
	$(PYTHON) scripts/loadtest.py --duration 60

es-start:  ## a loopback Elasticsearch from the Maven-served distribution
	scripts/es-local start --port 9200

es-stop:
	scripts/es-local stop

clean:
	rm -rf $(DATA_DIR) .pytest_cache .ruff_cache

.PHONY: bench
bench: install native  ## benchmark suite (~15-20 min on 2 cores): bench/results/latest.{json,md}
	$(PYTHON) -m pip install -q gunicorn psutil pyinstrument py-spy
	$(PYTHON) -m bench
