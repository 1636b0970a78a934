# The two commands of the README: `make demo` and `make test`. Each creates .venv, installs the
# package with the extras it needs, and makes sure Graphviz's `dot` is there.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip -q --disable-pip-version-check

.PHONY: demo test lint format bench venv dot chromium clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10+ is needed"' \
	  || { echo "tinygrad-lite needs Python 3.10 or newer (PYTHON=$(PYTHON))" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Re-install only when pyproject.toml changes (the stamp records it).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[test,bench]'
	@touch $@

venv: $(VENV)/.installed

# Graphviz's `dot` renders SVG/PNG/PDF. Installed with apt-get when missing and we are root;
# otherwise the exact command is printed. In CI (CI=true) a missing `dot` is an error.
dot:
	@if command -v dot >/dev/null 2>&1; then \
	  :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Graphviz (dot) with apt-get..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz) >/dev/null \
	    || { echo "apt-get could not install graphviz; run: sudo apt-get install graphviz" >&2; exit 1; }; \
	else \
	  echo "Graphviz's dot is missing. Install it with:  sudo apt-get install graphviz" >&2; \
	  if [ -n "$$CI" ]; then exit 1; fi; \
	  echo "(continuing: DOT files are still written; SVG/PNG rendering tests are skipped)" >&2; \
	fi

# Debian's Chromium runs the stepper page's browser tests (playwright drives it; never
# `playwright install`, no downloads). Installed with apt-get when missing and we are root;
# otherwise the exact command is printed. In CI (CI=true) a missing browser is an error.
chromium:
	@if [ -x /usr/bin/chromium ]; then \
	  :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing Chromium with apt-get..."; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
	    || { echo "apt-get could not install chromium; run: sudo apt-get install chromium" >&2; exit 1; }; \
	else \
	  echo "Chromium is missing. Install it with:  sudo apt-get install chromium" >&2; \
	  if [ -n "$$CI" ]; then exit 1; fi; \
	  echo "(continuing: the browser tests of the stepper page are skipped)" >&2; \
	fi

lint: venv
	$(BIN)/ruff check tinygrad_lite viz tests examples bench

format: venv
	$(BIN)/ruff format tinygrad_lite viz tests examples bench

test: venv dot chromium lint
	$(BIN)/python -m pytest -q

demo: venv dot
	@mkdir -p out
	@set -e; for f in examples/*.py; do \
	  echo "== $$f"; MPLBACKEND=Agg $(BIN)/python $$f; \
	done
	@echo "Demo outputs are in out/"

bench: venv
	$(BIN)/python bench/run_all.py

clean:
	rm -rf out .pytest_cache .hypothesis
