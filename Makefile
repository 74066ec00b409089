# Two commands on a fresh machine: `make demo` and `make test`. Everything else is set up here.
PY      ?= $(shell command -v python3.11 || command -v python3)
VENV    := .venv
BIN     := $(VENV)/bin
NOTO    := /usr/share/fonts/truetype/noto/NotoSans-Regular.ttf
NOTOCJK := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

.PHONY: demo test test-fast lint install fonts icu services c2pa-reader browser bench clean

demo: install fonts
	$(BIN)/tessera render catalogs/sample --out out
	$(BIN)/tessera audit out

# Tests run in random order (pytest-randomly, loaded explicitly with -p so nothing in the environment
# turns it off). The seed is printed first; `make test SEED=N` reruns that order.
SEED    ?=
PYTEST   = seed="$(SEED)"; [ -n "$$seed" ] || seed=$$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); \
	echo "pytest-randomly seed $$seed (rerun this order: make $@ SEED=$$seed)"; \
	$(BIN)/pytest -q -p randomly --randomly-seed=$$seed

test: install fonts services c2pa-reader browser
	@$(PYTEST)

# Everything but the tests marked slow (whole renders, servers, watermark attacks): under 2 minutes.
test-fast: install fonts services c2pa-reader browser
	@$(PYTEST) -m "not slow"

# Both checkers always run; lint fails if either does.
lint: install
	@rc=0; echo "$(BIN)/ruff check ."; $(BIN)/ruff check . || rc=1; \
	echo "$(BIN)/mypy"; $(BIN)/mypy || rc=1; exit $$rc

install: icu $(VENV)/.installed

# The CPU build of torch goes in first where no GPU is present: a bare `torch`
# requirement would pull several GB of CUDA packages.
$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	if ! command -v nvidia-smi >/dev/null 2>&1; then $(BIN)/pip install -q torch==2.13.0; fi
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# PyICU (Unicode line breaking, Thai/Lao/Khmer/Burmese dictionaries) is a source package: pip builds it
# against ICU's headers with pkg-config and a C++ compiler, so those come first.
icu:
	@if pkg-config --exists icu-uc 2>/dev/null && command -v c++ >/dev/null 2>&1; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libicu-dev pkg-config g++ >/dev/null; \
	else \
		echo "PyICU needs ICU's headers, pkg-config and a C++ compiler: install the Debian/Ubuntu packages"; \
		echo "libicu-dev pkg-config g++ (e.g. sudo apt-get install libicu-dev pkg-config g++), then run make again."; exit 1; \
	fi

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

# An independent C2PA reader (TrustNXT's c2pa-ts, pure TypeScript) for the manifest round-trip test:
# Node.js from apt where apt is usable, then the locked packages (npm install --no-save: npm ci trips over cbor-extract's optional platform packages); the test itself downloads nothing.
c2pa-reader:
	@if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; \
	fi; \
	if command -v npm >/dev/null 2>&1; then \
		npm install --prefix tests/c2pa_ts --no-save --no-audit --no-fund --loglevel=error; \
	else \
		echo "Node.js/npm are missing: tests/flows/test_manifest_round_trip.py will skip its independent reader."; \
	fi

# The browser tests of the review workspace (tests/ui) drive Debian's chromium through Playwright for Python;
# Playwright's own browser download is never used (nothing is downloaded at test time).
browser:
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	else \
		echo "chromium is missing: install the Debian/Ubuntu package chromium (e.g. sudo apt-get install chromium);"; \
		echo "tests/ui skip their browser tests without it."; \
	fi

bench: install fonts
	$(BIN)/python benchmarks/pipeline_bench.py

clean:
	rm -rf out $(VENV) *.egg-info tests/c2pa_ts/node_modules
