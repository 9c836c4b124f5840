# MODS: `make serve` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
IMAGE  ?= mods
STAMP  := $(VENV)/.installed

.PHONY: help venv serve test test-fast default-model sample-data docker docker-test bench clean

help:
	@echo "make serve          set up, then serve on port $(PORT) with the default model"
	@echo "make test           set up, then run the test suite"
	@echo "make default-model  regenerate data/sample-w01h-s10m.tsv and models/default.zip"
	@echo "make docker         build the Docker image '$(IMAGE)'"
	@echo "make docker-test    build, run, POST the sample to the container, check, stop"
	@echo "make bench          run the benchmarks in bench/"

$(STAMP): requirements.txt requirements-dev.txt setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

serve: $(STAMP)
	@test -f models/default.zip || $(MAKE) default-model
	$(BIN)/mods-serve --listen-ip 0.0.0.0 --listen-port $(PORT) --workers 1 --train-workers 1

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

bench: $(STAMP)
	$(BIN)/python bench/bench_forecast.py
	$(BIN)/python bench/bench_detect.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
