# DI evidence workbench — `make demo` and `make test` are all a newcomer needs.
# Needs only python3 (>= 3.11), pip and make: the virtual environment is created here.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
KERNEL := research-lib
CODEBOOK := surveys/qol-child-v1.yaml

.PHONY: help setup demo demo-data studies browser test lint lab bench notebooks clean

help:            ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "DI workbench (research_lib)"
	touch $(STAMP)

setup: $(STAMP)  ## create .venv, install the project and its Jupyter kernel

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
	$(BIN)/python -m research_lib run placements_public -p episodes= \
		-p counts=data/public/national_counts.csv -p population=data/reference/child_population_nsi.csv
	$(BIN)/python -m research_lib run brief_public -p qol_published= -p placements_published=reports/placements_public/all/published.csv
	$(BIN)/python -m research_lib run placements_priemi_me -p episodes= -p counts=data/public/priemi_me_counts.csv -p population=data/reference/child_population_nsi.csv
	$(BIN)/python -m research_lib run placements_dmsgd -p episodes= -p counts=data/public/dmsgd_counts.csv -p population=data/reference/child_population_nsi.csv
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
	$(BIN)/python -m pytest -q tests research_lib notebooks \
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
