# The two commands a user needs: `make demo` and `make test`. Each sets up what is missing first.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit clean

setup: $(STAMP) tools

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

# exiftool is the reference reader the metadata tests compare against (Debian package, root on CI).
tools:
	@command -v exiftool >/dev/null 2>&1 || { \
	  echo "installing exiftool (libimage-exiftool-perl)"; \
	  (apt-get update -qq && apt-get install -y -qq libimage-exiftool-perl) >/dev/null 2>&1 || \
	  echo "warning: could not install exiftool; the tests that compare against it will fail"; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

test: setup lint typecheck unit

demo: setup
	$(BIN)/patrol demo

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
