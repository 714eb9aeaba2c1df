# intrinsic-lr: every entry point. `make reproduce` and `make test` each set up what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# skip: CPU only, offline. cuda12: also fetch onnxruntime-node's CUDA provider (needs internet and CUDA 12).
ORT_INSTALL ?= skip
SCALE ?= cpu
OUT ?= reports
STAMP := node_modules/.setup-stamp

.PHONY: help setup system-deps build test reproduce models bench clean

help:
	@echo "make reproduce   run every figure at SCALE=$(SCALE) and write $(OUT)/index.html"
	@echo "make test        build and run the test suite"
	@echo "make setup       npm ci (ORT_INSTALL=skip|cuda12) and Debian packages (python3-torch, python3-onnx, dataset-fashion-mnist, slurm-wlm, munge)"
	@echo "make build | models | bench | clean"

setup: $(STAMP) system-deps

# onnxruntime-node's postinstall downloads the CUDA provider from the internet; it is skipped unless asked for.
$(STAMP): package.json package-lock.json
	ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
	@if [ "$(ORT_INSTALL)" != "skip" ]; then \
	  echo "fetching onnxruntime-node's $(ORT_INSTALL) execution provider"; \
	  cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=$(ORT_INSTALL) node script/install; \
	fi
	@touch $@

system-deps:
	@bash scripts/setup-system.sh

build: setup
	npx tsc -p tsconfig.json

# As root with slurm-wlm and munge installed, the Slurm launcher's tests run on a one-node cluster (scripts/with-slurm.sh).
test: build
	bash scripts/with-slurm.sh npx jest --maxWorkers=2

reproduce: build
	node dist/cli.js reproduce --scale $(SCALE) --out $(OUT)

models: build
	node dist/cli.js models --out models

bench: build
	node dist/cli.js bench --vs-torch

clean:
	rm -rf dist reports runs models/*.onnx $(STAMP)
