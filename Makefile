# archiver: two commands on a fresh machine. `make demo` runs the whole story offline;
# `make test` runs the test suite against SQLite + files and PostgreSQL + SeaweedFS S3.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck bench bench-capture clean install replay-env replaywebpage

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[postgres,s3,browser,distributed,dev]'
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium) \
		|| echo "Chromium could not be installed: browser tests will be skipped"
	# CJK fonts: Noto for Chromium, WenQuanYi Zen Hei (TrueType, which reportlab embeds) for PDFs
	test -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc || (apt-get update && apt-get install -y \
		fonts-noto-cjk fonts-wqy-zenhei) || echo "CJK fonts could not be installed: PDFs will show CJK as boxes"
	touch $(STAMP)

# pywb pins libraries that clash with the distributed extra: it gets a venv of its own.
.venv-pywb/bin/wayback:
	$(PYTHON) -m venv .venv-pywb
	.venv-pywb/bin/python -m pip install --quiet 'pywb>=2.8' 'wacz>=0.5'

replay-env: .venv-pywb/bin/wayback

# ReplayWeb.page for the browser test that opens an exported WACZ: the npm package ships its
# built ui.js and sw.js, so the package alone is unpacked (its build dependencies are not needed).
RWP_VERSION ?= 2.5.3
RWP_DIR     := .cache/replaywebpage
$(RWP_DIR)/package/sw.js:
	mkdir -p $(RWP_DIR)
	(cd $(RWP_DIR) && npm pack --silent replaywebpage@$(RWP_VERSION) \
		&& tar xzf replaywebpage-$(RWP_VERSION).tgz) \
		|| echo "ReplayWeb.page could not be fetched (npm): its browser test will be skipped"

replaywebpage: $(RWP_DIR)/package/sw.js

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/archiver demo

test: $(STAMP) .venv-pywb/bin/wayback $(RWP_DIR)/package/sw.js
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check archiver tests bench
	$(BIN)/ruff format --check archiver tests bench

typecheck: $(STAMP)
	$(BIN)/mypy archiver

# every figure beside its peer in one run (search at 1M posts, capture vs wget, WARC writing);
# the corpus is cached in data/bench. Quick run: make bench BENCH_ARGS="--posts 100000"
bench: $(STAMP)
	which wget >/dev/null || apt-get install -y wget || echo "wget absent: capture compared with nothing"
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

bench-capture: $(STAMP)
	$(BIN)/python bench/capture_api.py

clean:
	rm -rf $(VENV) .venv-pywb .cache/replaywebpage demo-data data .pytest_cache .mypy_cache .ruff_cache
