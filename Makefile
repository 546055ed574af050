# DI evidence workbench — `make demo` and `make test` are all a newcomer needs.
# Needs only python3 (>= 3.11), pip and make: the virtual environment is created here.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
KERNEL := research-lib
# The locked stack (exact versions and hashes, made by `make lock`) and the uv that installs it:
# a uv on PATH, else this pinned release, which pip puts once in the user's cache (not in .venv).
LOCK   := requirements.lock
UV_VERSION := 0.13.9
UV_HOME ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/di-workbench/uv-$(UV_VERSION)
UV     ?= $(shell command -v uv 2>/dev/null || echo $(UV_HOME)/bin/uv)
UV_GET := "$(UV)" --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet \
	--disable-pip-version-check --target $(UV_HOME) 'uv==$(UV_VERSION)'
CODEBOOK := surveys/qol-child-v1.yaml

.PHONY: help setup lock demo demo-data studies browser test lint lab bench notebooks clean

help:            ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(STAMP): pyproject.toml $(LOCK)
	@$(UV_GET) || echo "--- uv could not be installed: pip it is"
	@if "$(UV)" --version >/dev/null 2>&1; then \
	  echo "--- installing $(LOCK) and the project with $$("$(UV)" --version)"; \
	  $(PYTHON) -m venv --without-pip $(VENV) && \
	  { "$(UV)" pip install --quiet --offline --no-deps --python $(BIN)/python -r $(LOCK) -e . \
	    2>/dev/null || "$(UV)" pip install --quiet --no-deps --python $(BIN)/python -r $(LOCK) -e . ; } && \
	  "$(UV)" pip check --quiet --python $(BIN)/python; \
	else \
	  echo "--- installing $(LOCK) and the project with pip"; \
	  $(PYTHON) -m venv $(VENV) && \
	  $(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK) && \
	  $(BIN)/python -m pip install --quiet --no-deps -e . && \
	  $(BIN)/python -m pip check >/dev/null; \
	fi || { echo "$(LOCK) does not install or does not satisfy pyproject.toml: make lock"; exit 1; }
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "DI workbench (research_lib)"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv, install the locked stack ($(LOCK)), the project and its Jupyter kernel

lock:  ## re-resolve pyproject.toml with pip in a scratch venv; write its exact versions, hashed, to $(LOCK)
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --upgrade pip
	build/lock-venv/bin/python -m pip install --quiet '.[dev]'
	build/lock-venv/bin/python -m pip freeze --all --exclude research-lib --exclude setuptools \
		> build/pip-resolution.txt
	echo pip > build/lock-tools.in
	@$(UV_GET)
	"$(UV)" pip compile --quiet pyproject.toml build/lock-tools.in --extra dev --universal \
		--python-version 3.11.5 --generate-hashes --custom-compile-command "make lock" \
		-c build/pip-resolution.txt -o $(LOCK)
	rm -rf build/lock-venv
	@echo "$(LOCK) rewritten: review git diff $(LOCK), then make setup (it reinstalls) and commit"

demo-data: setup  ## generate the synthetic demo data in data/demo/
	$(BIN)/python -m research_lib demo-data

demo: demo-data  ## set up, generate demo data and run all studies, the briefs and the index
	@echo "--- validating a file with deliberately broken rows (exit 1 = rows rejected, as planted)"
	-$(BIN)/python -m research_lib validate data/demo/survey_broken.csv --codebook $(CODEBOOK)
	@echo "--- validating and scoring the demo survey"
	$(BIN)/python -m research_lib score data/demo/survey.csv --codebook $(CODEBOOK) --out data/demo/demo_scores.csv
	@echo "--- national reports: quality of life, placements, the policy brief and the children's page"
	$(BIN)/python -m research_lib run qol
	$(BIN)/python -m research_lib run placements
	@echo "--- Bulgaria from published figures only (data/public: every figure with its source)"
	$(BIN)/python -m research_lib run placements_public
	$(BIN)/python -m research_lib run brief_public
	$(BIN)/python -m research_lib run placements_priemi_me
	$(BIN)/python -m research_lib run placements_dmsgd
	$(BIN)/python -m research_lib run brief
	@echo "--- every study for the country and all 28 oblasts (unchanged runs are skipped)"
	$(BIN)/python -m research_lib batch qol --over oblast
	$(BIN)/python -m research_lib batch placements --over oblast
	$(BIN)/python -m research_lib batch brief --over oblast
	@echo "--- the built-in intruder over every published.csv (exit 1 lists any count it can recover)"
	$(BIN)/python -m research_lib audit reports/
	@echo "index: reports/index.html"

studies: demo-data  ## the national study runs the brief notebook reads (make test needs them)
	$(BIN)/python -m research_lib run qol
	$(BIN)/python -m research_lib run placements

browser:  ## headless Chromium for the report rendering tests (apt-get, where this user may)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "--- installing chromium for the rendering tests"; \
	    apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; } || \
	    echo "chromium could not be installed: the browser rendering tests will be skipped"; \
	  else echo "no chromium (apt-get install chromium): the browser rendering tests will be skipped"; fi; }

test: studies browser  ## lint, then the tests: library, doctests and the notebooks (nbval)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests research_lib notebooks \
		--nbval --nbval-sanitize-with notebooks/nbval_sanitize.cfg

lint: setup  ## ruff check and format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

notebooks: studies  ## re-execute the committed notebooks on the demo data (then commit them)
	for nb in notebooks/*.ipynb; do \
		case "$$nb" in notebooks/explore_survey.ipynb) continue;; esac; \
		$(BIN)/jupyter nbconvert --to notebook --execute --inplace "$$nb" || exit 1; done
	@echo "explore_survey.ipynb shows children's rows: committed without outputs (nbval runs it)"

lab: setup  ## open JupyterLab on the project's kernel
	$(BIN)/jupyter lab notebooks/

bench: setup  ## benchmarks: medians and ratios to their floors
	$(BIN)/python benchmarks/bench_load.py
	$(BIN)/python benchmarks/bench_batch.py
	$(BIN)/python benchmarks/bench_few_clusters.py
	$(BIN)/python benchmarks/bench_regional.py
	$(BIN)/python benchmarks/bench_redact.py
	$(BIN)/python benchmarks/bench_interrupt.py

clean:  ## remove the environment and everything generated
	rm -rf $(VENV) data/demo/*.csv reports/*/ reports/*.csv reports/index.html .pytest_cache .ruff_cache
