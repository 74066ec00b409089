# Two commands on a fresh machine: `make demo` and `make test`. Everything else is set up here.
PY      ?= $(shell command -v python3.11 || command -v python3)
VENV    := .venv
BIN     := $(VENV)/bin
NOTO    := /usr/share/fonts/truetype/noto/NotoSans-Regular.ttf
NOTOCJK := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

.PHONY: demo test test-fast lint install fonts services bench clean

demo: install fonts
	$(BIN)/tessera render catalogs/sample --out out
	$(BIN)/tessera audit out

# Tests run in random order (pytest-randomly, loaded explicitly with -p so nothing in the environment
# turns it off). The seed is printed first; `make test SEED=N` reruns that order.
SEED    ?=
PYTEST   = seed="$(SEED)"; [ -n "$$seed" ] || seed=$$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); \
	echo "pytest-randomly seed $$seed (rerun this order: make $@ SEED=$$seed)"; \
	$(BIN)/pytest -q -p randomly --randomly-seed=$$seed

test: install fonts services
	@$(PYTEST)

# Everything but the tests marked slow (whole renders, servers, watermark attacks): under 2 minutes.
test-fast: install fonts services
	@$(PYTEST) -m "not slow"

# Both checkers always run; lint fails if either does.
lint: install
	@rc=0; echo "$(BIN)/ruff check ."; $(BIN)/ruff check . || rc=1; \
	echo "$(BIN)/mypy"; $(BIN)/mypy || rc=1; exit $$rc

install: $(VENV)/.installed

# The CPU build of torch goes in first where no GPU is present: a bare `torch`
# requirement would pull several GB of CUDA packages.
$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	if ! command -v nvidia-smi >/dev/null 2>&1; then $(BIN)/pip install -q torch==2.13.0; fi
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# Noto covers Latin, Arabic, Hebrew, Thai, Devanagari and CJK; Tessera refuses to render without them.
fonts:
	@if [ -f $(NOTO) ] && [ -f $(NOTOCJK) ]; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-core fonts-noto-cjk >/dev/null; \
	else \
		echo "Missing Noto fonts. Install the Debian/Ubuntu packages fonts-noto-core and fonts-noto-cjk"; \
		echo "(e.g. sudo apt-get install fonts-noto-core fonts-noto-cjk), then run make again."; exit 1; \
	fi

# The PostgreSQL ledger test starts its own server on loopback from these binaries.
services:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	else \
		echo "PostgreSQL server binaries are missing: install the Debian/Ubuntu package postgresql for the ledger tests."; exit 1; \
	fi

bench: install fonts
	$(BIN)/python benchmarks/pipeline_bench.py

clean:
	rm -rf out $(VENV) *.egg-info
