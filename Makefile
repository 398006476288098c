# Two commands do all the set-up on a fresh machine (each builds its own virtual
# environment in .venv on first use):
#   make reproduce   run the main job on the bundled default data
#   make test        run the test suite (what .ci/run calls)

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= out
SEED ?= 0
# make reproduce: methods, validation cuts, cuts computed at once (0: one per core), and
# more crossval flags (e.g. CROSSVAL_ARGS="--param lstm.epochs=20")
METHODS ?= lstm,lsa,signature
CUTS ?= 0-9
JOBS ?= 0
CROSSVAL_ARGS ?=
LRC := $(VENV)/bin/lstm-rnn-correlation

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

# The whole pipeline on the bundled data: generate + preprocess (OUT/alerts.csv), every
# method on every cut (OUT/crossval: metrics, chosen operating points, summary.md), then
# the paper's tables and figures (OUT/results).  A finished cut is not recomputed when the
# command is run again with the same settings.
reproduce: $(VENV)/.installed
	$(LRC) preprocess --config data_cfg.py --out $(OUT)/alerts.csv --seed $(SEED)
	$(LRC) crossval --csv $(OUT)/alerts.csv --methods $(METHODS) --cuts $(CUTS) --seed $(SEED) \
		--jobs $(JOBS) --out $(OUT)/crossval $(CROSSVAL_ARGS)
	$(LRC) results $(OUT)/crossval --out $(OUT)/results
	@echo
	@echo "summary:  $(OUT)/results/summary.md (tables), $(OUT)/crossval/summary.md (per cut)"
	@echo "figures:  $(OUT)/results/imr_arf.png and $(OUT)/results/*.png, *.pdf"
	@echo "tables:   $(OUT)/results/table_*.md, table_*.tex"

clean:
	rm -rf $(OUT) data/generated
