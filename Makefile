# From a fresh clone:  make serve  →  curl  →  make stop.   make test runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Every model family with serving settings in model-config/.
MODELS := $(basename $(notdir $(wildcard model-config/*.yaml)))
# TRAIN_SEED=3 make test trains every model with seed 3 into checkpoints/seed-3/ and tests
# those: seeds stand in for other machines, whose CPUs train slightly different models.
TRAIN_SEED ?=
CHECKPOINT_DIR := checkpoints$(if $(TRAIN_SEED),/seed-$(TRAIN_SEED))
CHECKPOINTS := $(foreach model,$(MODELS),$(CHECKPOINT_DIR)/$(model)/model.pt)

.PHONY: install kserve-venv kserve-bundle checkpoints archive serve stop test test-fast reliability bench gpu-check clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -r requirements.txt
	touch $@

# Train only the models whose checkpoint is missing; delete one to retrain it.
$(CHECKPOINT_DIR)/%/model.pt: | $(VENV)/.installed
	$(BIN)/python -m training.$* --out $(CHECKPOINT_DIR)/$* $(if $(TRAIN_SEED),--seed $(TRAIN_SEED))

# The GAN is evaluated by the digit classifier beside it.
$(CHECKPOINT_DIR)/digits_gan/model.pt: | $(CHECKPOINT_DIR)/digits_cnn/model.pt

checkpoints: $(CHECKPOINTS)

archive: checkpoints
	./archive.sh --checkpoints $(CHECKPOINT_DIR)

# What KServe's TorchServe runtime reads from a storage URI: build/kserve-bundle/
# {config/config.properties, model-store/*.mar}; deploy/kserve/ says how to serve it.
kserve-bundle: checkpoints
	$(BIN)/python -m tools.kserve_bundle --checkpoints $(CHECKPOINT_DIR)

serve:
	@$(PYTHON) -m harness.java || { echo "make serve: stopping before any install." >&2; exit 1; }
	@$(MAKE) --no-print-directory archive
	$(BIN)/python -m tools.serve start

stop: $(VENV)/.installed
	$(BIN)/python -m tools.serve stop

# kserve's model server (handlers/kserve_server.py) in its own environment: kserve needs psutil<6.
$(VENV)-kserve/.installed: requirements-kserve.txt
	$(PYTHON) -m venv $(VENV)-kserve
	$(VENV)-kserve/bin/pip install -r requirements-kserve.txt
	touch $@

kserve-venv: $(VENV)-kserve/.installed

# The benchmark's and kserve's packages too: their tests run the real thing (tests/test_bench.py, test_kserve_server.py).
test: checkpoints $(VENV)-kserve/.installed $(VENV)/.bench-installed
	CHECKPOINT_DIR=$(CHECKPOINT_DIR) $(BIN)/python -m pytest

# The in-process tier, while working: every test that neither builds archives nor starts a server
# (marked serving) and is not one of the few slow in-process ones (marked slow: compiling a model,
# a scratch copy of the repository, thousands of generated cases); under 2 minutes on 2 cores.
test-fast: checkpoints
	CHECKPOINT_DIR=$(CHECKPOINT_DIR) $(BIN)/python -m pytest -m "not serving and not slow"

# Load, soak, worker crash, upgrade, overload and management-gateway checks (docs/reliability.md),
# each on a private TorchServe on free ports; about 7 minutes; they rewrite the figures in that file.
reliability: checkpoints
	$(BIN)/python -m reliability.load
	$(BIN)/python -m reliability.soak
	$(BIN)/python -m reliability.crash
	$(BIN)/python -m reliability.upgrade_drill
	$(BIN)/python -m reliability.overload
	$(BIN)/python -m reliability.management_under_load

# The benchmark's own packages (load generator, LitServe peer, py-spy), on top of requirements.txt.
$(VENV)/.bench-installed: requirements-bench.txt | $(VENV)/.installed
	$(BIN)/pip install -r requirements-bench.txt
	touch $@

# Compute limit, server limit, served figures and a LitServe peer in one run, about 7 minutes on
# 2 cores: bench/results/<timestamp>.json, docs/performance.md and docs/performance/*.png.
bench: checkpoints $(VENV)/.bench-installed
	$(BIN)/python -m bench

# TorchServe on GPU workers: each worker on a GPU, the same answers as the CPU, the served figures.
# Without a GPU it says so and exits 0.
gpu-check: checkpoints $(VENV)/.bench-installed
	$(BIN)/python -m bench.gpu_check

clean:
	rm -rf model_store/*.mar logs key_file.json .pytest_cache build/kserve-bundle
