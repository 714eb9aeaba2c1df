# intrinsic-lr: every entry point. `make reproduce` and `make test` each set up what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# skip: CPU and WebGPU only, offline. cuda: also fetch onnxruntime-node's CUDA provider from NuGet
# (Microsoft.ML.OnnxRuntime.Gpu.Linux of the same version; api.nuget.org must be reachable). It needs
# CUDA 13, cuDNN 9 and an NVIDIA driver >= 580; `make doctor EP=cuda` checks them.
ORT_INSTALL ?= skip
EP ?= cpu
# WebGPU without a GPU: SwiftShader's Vulkan driver from Debian's chromium, unless a driver is chosen.
SWIFTSHADER_ICD := /usr/lib/chromium/vk_swiftshader_icd.json
WEBGPU_ENV := VK_ICD_FILENAMES=$${VK_ICD_FILENAMES:-$$( [ -f $(SWIFTSHADER_ICD) ] && echo $(SWIFTSHADER_ICD) )} XDG_RUNTIME_DIR=$${XDG_RUNTIME_DIR:-$$(mktemp -d)}
SCALE ?= cpu
OUT ?= reports
# e.g. BATCH=32,128,256: one row per model and batch size.
BATCH ?= 128
STAMP := node_modules/.setup-stamp

.PHONY: help setup system-deps build test reproduce models bench doctor clean

help:
	@echo "make reproduce   run every figure at SCALE=$(SCALE) and write $(OUT)/index.html"
	@echo "make test        build and run the test suite"
	@echo "make setup       npm ci (ORT_INSTALL=skip|cuda) and Debian packages (python3-torch, python3-onnx, dataset-fashion-mnist, chromium, libvulkan1, slurm-wlm, munge)"
	@echo "make doctor      check an execution provider (EP=cpu|cuda|webgpu)"
	@echo "make bench       ours against PyTorch, img/s and peak memory (BATCH=32,128,256 for more rows)"
	@echo "make build | models | clean"

setup: $(STAMP) system-deps

# onnxruntime-node's postinstall downloads the CUDA provider from NuGet; it is skipped unless asked for.
# Its install script parses only 1/true/ON/skip (a name such as cuda12 falls through to the default
# path), so the forced install is ONNXRUNTIME_NODE_INSTALL=1.
$(STAMP): package.json package-lock.json
	ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
	@case "$(ORT_INSTALL)" in \
	  skip) ;; \
	  cuda) echo "fetching onnxruntime-node's CUDA execution provider from api.nuget.org"; \
	        cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=1 node script/install ;; \
	  *) echo "ORT_INSTALL=$(ORT_INSTALL): expected skip or cuda" >&2; exit 2 ;; \
	esac
	@touch $@

system-deps:
	@bash scripts/setup-system.sh

build: setup
	npx tsc -p tsconfig.json

# As root with slurm-wlm and munge installed, the Slurm launcher's tests run on a one-node cluster (scripts/with-slurm.sh).
# The tests are type-checked first: ts-jest compiles each file alone and would not see a type error.
test: build
	npx tsc -p tsconfig.test.json
	$(WEBGPU_ENV) bash scripts/with-slurm.sh npx jest --maxWorkers=2

reproduce: build
	node dist/cli.js reproduce --scale $(SCALE) --out $(OUT)

models: build
	node dist/cli.js models --out models

bench: build
	node dist/cli.js bench --vs-torch --batch $(BATCH)

doctor: build
	$(WEBGPU_ENV) node dist/cli.js doctor --ep $(EP)

clean:
	rm -rf dist reports runs models/*.onnx $(STAMP)
