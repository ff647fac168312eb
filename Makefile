# archiver: `make archive` sets everything up and archives the default sources;
# `make test` runs the suite.  Only python3 (3.11+) and make are needed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DB     ?= data/archive.db
PORT   ?= 8001
# Extra options for archive and resolve, e.g. make archive ARGS="--time-limit 50"
ARGS   ?=
# The environment is rebuilt whenever the lock or the project metadata change.
STAMP  := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
# ReplayWeb.page's viewer (the npm package), for the test that replays an evidence package.
REPLAY_VERSION := 2.5.3
REPLAY_SHA256  := b7d35c39c4da9b7121c5a393911d8675d4cc6f19513c380191e16b086bea812c
REPLAY_DIR     := .cache/replaywebpage-$(REPLAY_VERSION)

.PHONY: all archive resolve serve stats test publish-check lint format lock docs bench bench-profile bench-scale bench-cluster conformance replay-viewer clean

all: lint test

$(STAMP): requirements.lock pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

archive: $(STAMP)
	$(BIN)/archiver archive --db $(DB) --create $(ARGS)

resolve: $(STAMP)
	$(BIN)/archiver resolve --db $(DB) $(ARGS)

serve: $(STAMP)
	$(BIN)/archiver serve --db $(DB) --port $(PORT)

stats: $(STAMP)
	$(BIN)/archiver stats --db $(DB)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

publish-check: $(STAMP)
	$(BIN)/python -m pytest -q tests/test_publish.py

lint: $(STAMP)
	$(BIN)/ruff check archiver tests bench
	$(BIN)/ruff format --check archiver tests bench
	$(BIN)/mypy
	$(BIN)/cog --check README.md metadata.yml docs/*.md

format: $(STAMP)
	$(BIN)/ruff format archiver tests bench
	$(BIN)/ruff check --fix archiver tests bench

# Needs the package registry; writes versions and hashes only, no download URLs.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet uv==0.13.8
	$(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 --extra test --extra cluster \
	  -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .cache

# ReplayWeb.page's ui.js and sw.js, checked against their pinned SHA-256 (needs npm and
# its registry).  With them, make test replays an evidence package in chromium; without,
# that test is skipped (CI fetches them).
replay-viewer: $(REPLAY_DIR)/ui.js

$(REPLAY_DIR)/ui.js:
	rm -rf $(REPLAY_DIR).partial && mkdir -p $(REPLAY_DIR).partial
	cd $(REPLAY_DIR).partial && npm pack --silent replaywebpage@$(REPLAY_VERSION) >/dev/null
	echo "$(REPLAY_SHA256)  $(REPLAY_DIR).partial/replaywebpage-$(REPLAY_VERSION).tgz" | sha256sum --check --quiet -
	tar -xzf $(REPLAY_DIR).partial/replaywebpage-$(REPLAY_VERSION).tgz -C $(REPLAY_DIR).partial \
	  --strip-components=1 package/ui.js package/sw.js package/LICENSE
	rm $(REPLAY_DIR).partial/replaywebpage-$(REPLAY_VERSION).tgz
	rm -rf $(REPLAY_DIR) && mv $(REPLAY_DIR).partial $(REPLAY_DIR)

docs: $(STAMP)
	$(BIN)/cog -r README.md metadata.yml docs/*.md

# Link resolution against a latency-injecting server on 127.0.0.x, archiver beside
# urlexpander, minet and plain loops (installed into bench/.venv only), then the CPU
# each layer of the HTTP stack costs per request, and ingesting a million-record twarc2
# file and zstd Pushshift dump against sqlite-utils insert as the floor.
bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/layers.py
	$(BIN)/python bench/collectors.py
	$(BIN)/python bench/copies.py

# Where the CPU goes: archiver resolve under py-spy (flame graph in bench/profiles/).
bench-profile: $(STAMP)
	$(BIN)/python bench/profile.py

# 100k and a million links (the archives then served: Datasette's page times), a re-run
# with nothing due, and a 100,000-tweet archive against twitter-to-sqlite (about an hour).
bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py

# Resolving on a Dask cluster: 20,000 links over 200 hosts, one process against local
# clusters of 1, 2 and 4 workers -> bench/results-cluster.md.
bench-cluster: $(STAMP)
	$(BIN)/python bench/cluster.py

# twitter-text's extraction suite (conformance/extract.yml of the public twitter/twitter-text
# repository, not shipped here) through archiver ingest:
#   make conformance TWITTER_TEXT=path/to/twitter-text
conformance: $(STAMP)
	@test -n "$(TWITTER_TEXT)" || { echo "usage: make conformance TWITTER_TEXT=path/to/twitter-text"; exit 2; }
	$(BIN)/python bench/conformance.py $(TWITTER_TEXT) --output bench/results-conformance.md
