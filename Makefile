# The project's interface. On a fresh machine `make run` and `make test` set up everything they
# need (three venvs on Python 3.13, created once and refreshed when a requirement file changes).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# The local engine's port (on 127.0.0.1), what `make run` uploads, and the stall deadline of
# local deployments (AWS deployments use the template's default).
PORT ?= 4566
IMAGES ?= events/images
N ?= 40
CONCURRENCY ?= 8
STALL_TIMEOUT_SECONDS ?= 300
ARCH := $(shell uname -m | sed -e 's/aarch64/arm64/' -e 's/amd64/x86_64/')

VENV := .venv
SAM_VENV := .venv-sam
ENGINE_VENV := .venv-engine
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
DEV_READY := $(VENV)/.installed
SAM_READY := $(SAM_VENV)/.installed
ENGINE_READY := $(ENGINE_VENV)/.installed

# sam build looks for python3.13 on PATH: the dev venv provides it.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
export PORT STALL_TIMEOUT_SECONDS

# What every AWS client needs to reach the local engine instead of AWS.
LOCAL_AWS := AWS_ENDPOINT_URL=http://127.0.0.1:$(PORT) AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
	AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
LOCAL_PARAMS := LocalEmulator=true Architecture=$(ARCH) StallTimeoutSeconds=$(STALL_TIMEOUT_SECONDS)

.PHONY: venvs help run test test-unit test-integration lint format bench load up down build-local deploy-local \
	local-env invoke deploy clean

help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# ---------------------------------------------------------------- the two commands
run: up ## Upload the sample images (or IMAGES=dir) through the local stack; report in out/
	@echo "Building and deploying template.yaml to the local engine (log: .engine/deploy.log) ..."
	@start=$$(date +%s); \
	if ! $(MAKE) -s build-local deploy-local > .engine/deploy.log 2>&1; then \
		tail -n 40 .engine/deploy.log; echo "deploy failed: the whole log is in .engine/deploy.log"; exit 1; \
	fi; \
	echo "... deployed in $$(( $$(date +%s) - start )) s"
	@$(LOCAL_AWS) $(PY) -m tools.run --images "$(IMAGES)" $(if $(filter events/images,$(IMAGES)),--expect complete)

test: venvs ## Every test: unit (moto) and integration (local engine)
	$(PY) -m pytest tests/unit tests/integration

# ---------------------------------------------------------------- more
test-unit: $(DEV_READY) ## Unit tests only (fast, no network)
	$(PY) -m pytest tests/unit

test-integration: venvs ## Integration tests only (deploy to a local engine)
	$(PY) -m pytest tests/integration

lint: venvs ## ruff, mypy (strict), cfn-lint (+ serverless rules), sam validate --lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- template.yaml
	$(SAM) validate --lint

format: $(DEV_READY) ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: venvs ## Image engine speed, cost, init time and memory against the baselines (out/bench.json)
	@mkdir -p out
	@$(MAKE) -s build-local > out/bench-build.log 2>&1 || { tail -n 30 out/bench-build.log; exit 1; }
	$(PY) -m tests.bench

load: venvs ## N=40 uploads, 8 clients, through a freshly deployed local stack: cold, warm, raw (out/load.json)
	@$(MAKE) -s down > /dev/null
	@$(MAKE) -s up
	@mkdir -p .engine
	@$(MAKE) -s build-local deploy-local > .engine/deploy.log 2>&1 || { tail -n 40 .engine/deploy.log; exit 1; }
	@$(LOCAL_AWS) $(PY) -m tests.bench.load --count $(N) --concurrency $(CONCURRENCY)

up: venvs ## Start the local engine (ministack) on 127.0.0.1, port PORT=4566
	@$(PY) -m tools.engine up

down: ## Stop the local engine
	@if [ -x $(PY) ]; then $(PY) -m tools.engine down; else echo "nothing to stop"; fi

build-local: $(DEV_READY) $(SAM_READY) ## sam build for the local engine (this machine's architecture)
	$(SAM) build --config-env local --parameter-overrides $(LOCAL_PARAMS)
	$(call compile_layers,.aws-sam/local)

deploy-local: up build-local ## Deploy template.yaml to the local engine with sam deploy
	$(LOCAL_AWS) $(SAM) deploy --config-env local --parameter-overrides $(LOCAL_PARAMS)

local-env: $(DEV_READY) ## Print export lines for the local stack: eval "$(make -s local-env)"
	@$(LOCAL_AWS) $(PY) -m tools.stack env

invoke: $(DEV_READY) ## Invoke a deployed function with an event: make invoke FN=ThumbnailFunction EVENT=events/s3put.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<LogicalId> EVENT=events/<file>.json"; exit 2; }
	@$(LOCAL_AWS) $(PY) -m tools.invoke "$(FN)" "$(EVENT)"

deploy: $(DEV_READY) $(SAM_READY) ## Build for AWS and deploy with sam deploy --guided (your AWS credentials)
	$(SAM) build
	$(call compile_layers,.aws-sam/build)
	$(SAM) deploy --guided

clean: down ## Remove build output, reports and the venvs
	rm -rf .aws-sam out .engine $(VENV) $(SAM_VENV) $(ENGINE_VENV) .pytest_cache .mypy_cache .ruff_cache

# The layers ship their bytecode: Lambda's /opt is read-only, so without it every cold start
# compiles Powertools, pydantic and Pillow again (make bench: an image handler imports in 0.45 s
# with its bytecode, 0.74 s without).
# unchecked-hash .pyc stay valid when unzipping resets the sources' mtimes. Python 3.13 bytecode
# is the same on every architecture.
define compile_layers
	$(PY) -m compileall -q -j 0 --invalidation-mode unchecked-hash $(1)/SharedLayer/python $(1)/PillowLayer/python > /dev/null
endef

# ---------------------------------------------------------------- venvs (Python 3.13)
# A venv is (re)built when its requirement files change; one made by another Python is replaced.
# The three build side by side.
venvs:
	@$(MAKE) -q $(DEV_READY) $(SAM_READY) $(ENGINE_READY) || \
		{ tools/find-python313.sh > /dev/null && $(MAKE) -j3 $(DEV_READY) $(SAM_READY) $(ENGINE_READY); }

define make_venv
	@py=$$(tools/find-python313.sh); \
	if ! $(1)/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then \
		rm -rf $(1); echo "creating $(1) with $$py"; "$$py" -m venv $(1); \
	fi
	@$(1)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(1)/bin/python -m pip install --quiet --disable-pip-version-check $(2)
	@touch $(1)/.installed
endef

$(DEV_READY): tools/requirements/dev.txt layers/shared/requirements.txt layers/pillow/requirements.txt
	$(call make_venv,$(VENV),-r tools/requirements/dev.txt)

$(SAM_READY): tools/requirements/sam.txt
	$(call make_venv,$(SAM_VENV),-r tools/requirements/sam.txt)

$(ENGINE_READY): tools/requirements/engine.txt
	$(call make_venv,$(ENGINE_VENV),-r tools/requirements/engine.txt)
