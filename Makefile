# archiver: two commands on a fresh machine. `make demo` runs the whole story offline;
# `make test` runs the test suite against SQLite + files and PostgreSQL + SeaweedFS S3.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean install

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[postgres,s3,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/archiver demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check archiver tests bench
	$(BIN)/ruff format --check archiver tests bench

typecheck: $(STAMP)
	$(BIN)/mypy archiver

bench: $(STAMP)
	$(BIN)/python bench/warc_write.py

clean:
	rm -rf $(VENV) demo-data data .pytest_cache .mypy_cache .ruff_cache
