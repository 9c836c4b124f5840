# MODS: `make serve` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
WORKERS ?= 2
IMAGE  ?= mods
STAMP  := $(VENV)/.installed
TOOLS  ?= .venv-tools
FUZZ   ?= .venv-fuzz
FUZZ_EXAMPLES ?= 170
FUZZ_SEED     ?= 0

.PHONY: help venv serve test test-fast default-model sample-data docker docker-test bench clean lock lint-docker audit audit-pins fuzz fuzz-ci

help:
	@echo "make serve          set up, then serve on port $(PORT) with the default model ($(WORKERS) prediction workers)"
	@echo "make test           set up, then run the test suite"
	@echo "make default-model  regenerate data/sample-w01h-s10m.tsv and models/default.zip"
	@echo "make docker         build the Docker image '$(IMAGE)'"
	@echo "make docker-test    build, run, POST the sample to the container, check, stop"
	@echo "make bench          run the benchmarks in bench/"
	@echo "make fuzz           schemathesis against a fresh mods-serve (>= 2,000 requests)"
	@echo "make lock           regenerate constraints.txt (pinned versions) from a fresh install"
	@echo "make lint-docker    hadolint docker/Dockerfile"
	@echo "make audit          pip-audit constraints.txt (needs PyPI's JSON API or OSV)"
	@echo "make audit-pins     offline fallback: every pin at its latest release, or held"

$(STAMP): requirements.txt requirements-dev.txt constraints.txt setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt --upgrade pip setuptools wheel
	$(BIN)/pip install -q -c constraints.txt -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

serve: $(STAMP)
	@test -f models/default.zip || $(MAKE) default-model
	$(BIN)/mods-serve --listen-ip 0.0.0.0 --listen-port $(PORT) --workers $(WORKERS) --train-workers 1

test: $(STAMP)
	$(BIN)/python -m pytest -q

sample-data: $(STAMP)
	$(BIN)/python -m mods.dataset.generate --rows 4464 --seed 0 --out data/sample-w01h-s10m.tsv

# Deterministic: same data, same seed, op determinism on CPU -> same weights.
default-model: $(STAMP) sample-data
	SOURCE_DATE_EPOCH=1559347200 $(BIN)/mods-train --data data/sample-w01h-s10m.tsv \
	  --model-name default --models-dir models --quiet $(DEFAULT_MODEL_OPTS)

docker:
	docker build -f docker/Dockerfile -t $(IMAGE) .

docker-test: docker
	bash docker/docker-test.sh $(IMAGE)

# Pins every runtime and dev dependency: fresh venv, unpinned install, pip freeze.
lock:
	rm -rf $(VENV)-lock && $(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install -q --upgrade pip setuptools wheel
	$(VENV)-lock/bin/pip install -q -r requirements-dev.txt
	{ grep '^#' constraints.txt; $(VENV)-lock/bin/pip freeze --all --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf $(VENV)-lock
	@echo "constraints.txt regenerated: run make audit (or audit-pins) and make test"

$(TOOLS)/.installed: requirements-tools.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q -r requirements-tools.txt
	touch $@

lint-docker: $(TOOLS)/.installed
	$(TOOLS)/bin/hadolint docker/Dockerfile

# --strict: a pin that could not be looked up fails (instead of passing unaudited).
audit: $(TOOLS)/.installed
	$(TOOLS)/bin/pip-audit --strict --no-deps --disable-pip -r constraints.txt

audit-pins: $(TOOLS)/.installed
	$(TOOLS)/bin/python docker/audit-pins.py constraints.txt

# API fuzzing: schemathesis in its own venv (DEEPaaS pins webargs<6, marshmallow<4), over
# HTTP against a mods-serve that bench/fuzz_api.py starts; FUZZ_EXAMPLES per operation and
# generation method (170: about 2,000 requests, ~10 min on 2 cores).
$(FUZZ)/.installed: requirements-fuzz.txt
	test -x $(FUZZ)/bin/python || $(PYTHON) -m venv $(FUZZ)
	$(FUZZ)/bin/pip install -q -r requirements-fuzz.txt
	touch $@

fuzz: $(STAMP) $(FUZZ)/.installed
	$(FUZZ)/bin/python bench/fuzz_api.py --server-python $(BIN)/python \
	  --examples $(FUZZ_EXAMPLES) --seed $(FUZZ_SEED)

fuzz-ci: $(STAMP) $(FUZZ)/.installed
	$(FUZZ)/bin/python bench/fuzz_api.py --server-python $(BIN)/python --examples 25 --seed 7

bench: $(STAMP)
	$(BIN)/python bench/bench_forecast.py
	$(BIN)/python bench/bench_detect.py
	$(BIN)/python bench/bench_stream.py
	$(BIN)/python bench/bench_load.py

clean:
	rm -rf $(VENV) $(TOOLS) $(FUZZ) build *.egg-info .pytest_cache
