# The project's interface. On a fresh machine `make run` and `make test` set up everything they
# need (three venvs on Python 3.13, created once and refreshed when a requirement file changes).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# The local engine's port (on 127.0.0.1), what `make run` uploads, and the stall deadline of
# local deployments (AWS deployments use the template's default). The local stack is STACK_NAME
# if set, else the one samconfig.toml's `local` environment names (tools/stack.py says which).
# Local builds are for this machine's CPU (the engine's); deploy-local refuses any other build.
PORT ?= 4566
IMAGES ?= events/images
N ?= 40
CONCURRENCY ?= 8
STALL_TIMEOUT_SECONDS ?= 300
# The browser origin the local API and bucket accept (CORS); the browser test serves its page there.
ALLOWED_ORIGIN ?= http://localhost:3000
LOCAL_BUILD_DIR ?= .aws-sam/local
ARCH := $(shell uname -m | sed -e 's/aarch64/arm64/' -e 's/amd64/x86_64/')

VENV := .venv
SAM_VENV := .venv-sam
ENGINE_VENV := .venv-engine
LINT_VENV := .venv-lint
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
DEV_READY := $(VENV)/.installed
SAM_READY := $(SAM_VENV)/.installed
ENGINE_READY := $(ENGINE_VENV)/.installed
LINT_READY := $(LINT_VENV)/.installed

# sam build looks for python3.13 on PATH: the dev venv provides it.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
export PORT STALL_TIMEOUT_SECONDS ALLOWED_ORIGIN HUB_STACKS

# What every AWS client needs to reach the local engine instead of AWS. Locally, callback URLs may
# be http://127.0.0.1:<port> receivers (AllowLoopbackCallbacks, app and push; no effect on AWS).
LOCAL_AWS := AWS_ENDPOINT_URL=http://127.0.0.1:$(PORT) AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
	AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
LOCAL_PARAMS := LocalEmulator=true Architecture=$(ARCH) StallTimeoutSeconds=$(STALL_TIMEOUT_SECONDS) \
	AllowedOrigin=$(ALLOWED_ORIGIN) RecognitionBackend=onnx AllowLoopbackCallbacks=true

# The delivery pipeline's steps (.github/workflows/pipeline.yml runs them per stage with the
# stage's values; `make deploy-local` runs the same package and deploy steps on the local engine).
ARCHITECTURE ?= arm64
BUILD_DIR ?= .aws-sam/build
STACK_NAME ?= image-pipeline
ARTIFACTS_BUCKET ?=
CFN_ROLE_ARN ?=
PARAMETERS ?=
PACKAGED = $(BUILD_DIR)/packaged-$(STACK_NAME).yaml
ARTIFACTS = $(if $(ARTIFACTS_BUCKET),--s3-bucket $(ARTIFACTS_BUCKET),--resolve-s3) --s3-prefix $(STACK_NAME)

# The event hub and its consumers (consumers/<name>/template.yaml): each its own template and
# stack. With no account parameters they all deploy into the engine's one account, wired by stack
# outputs -> parameters: the hub first, then each consumer (it subscribes on the hub's bus), then
# the app (it forwards to the hub). A new consumer is its folder, found here by its template.
HUB_STACKS := image-pipeline-local
CONSUMERS := $(sort $(patsubst consumers/%/template.yaml,%,$(wildcard consumers/*/template.yaml)))
HUB_PARTS := hub $(CONSUMERS)
hub_TEMPLATE := hub/template.yaml
$(foreach c,$(CONSUMERS),$(eval $(c)_TEMPLATE := consumers/$(c)/template.yaml))
PART_PARAMS := LocalEmulator=true Architecture=$(ARCH)
# make reprocess's stack (reprocess/template.yaml): deployed after the app, wired by its outputs
# (tools/reprocess.py wiring), as <app stack>-reprocess. Its run's knobs are the stack's parameters.
reprocess_TEMPLATE := reprocess/template.yaml
REPROCESS_CONCURRENCY ?= 10
TOLERATED_FAILURE_PERCENTAGE ?= 5
DRY_RUN ?=
PREFIX ?= uploads/
REPROCESS_IMAGES ?= 500
# The push (push/template.yaml): its own stack beside the app (<app stack>-push), deployed after it
# with the app's name, its StallTimeoutSeconds and these outputs of it (parameters of the same names).
push_TEMPLATE := push/template.yaml
PUSH_PARAMS := $(PART_PARAMS) AllowLoopbackCallbacks=true StallTimeoutSeconds=$(STALL_TIMEOUT_SECONDS)
PUSH_FROM_APP := AppBusName ImagesTableName ImagesBucketName WatchTokenSecretArn AlarmTopicArn
# Every tool runs with the shared package on its path: they speak the catalogue's names.
TOOLS_PATH := PYTHONPATH=layers/shared
TOOL := $(TOOLS_PATH) $(PY) -m
output = $$($(LOCAL_AWS) $(VENV)/bin/aws cloudformation describe-stacks --stack-name $(HUB_STACKS)-$(1) \
	--query "Stacks[0].Outputs[?OutputKey=='$(2)'].OutputValue" --output text)

.PHONY: venvs constraints help run test test-unit test-integration test-e2e lint format bench load up down build-local \
	build-app-local deploy-local deploy-reprocess deploy-push reprocess bench-reprocess query local-env stats \
	engine-env invoke events openapi deploy pipeline-build pipeline-package pipeline-deploy clean

help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# ---------------------------------------------------------------- the two commands
run: up ## Upload the sample images (or IMAGES=dir) through the local stack; report in out/
	@echo "Building and deploying template.yaml to the local engine (log: .engine/deploy.log) ..."
	@start=$$(date +%s); \
	if ! $(MAKE) -s build-local deploy-local > .engine/deploy.log 2>&1; then \
		tail -n 40 .engine/deploy.log; echo "deploy failed: the whole log is in .engine/deploy.log"; exit 1; \
	fi; \
	echo "... deployed in $$(( $$(date +%s) - start )) s"
	@$(LOCAL_AWS) $(TOOL) tools.run --images "$(IMAGES)" $(if $(filter events/images,$(IMAGES)),--expect complete)

test: venvs ## Every test: unit (moto), integration and end-to-end (local engine)
	$(PY) -m pytest tests/unit tests/integration tests/e2e

# ---------------------------------------------------------------- more
test-unit: $(DEV_READY) $(SAM_READY) ## Unit tests only (fast, no network)
	$(PY) -m pytest tests/unit

test-integration: venvs ## Integration tests only (deploy to a local engine)
	$(PY) -m pytest tests/integration

test-e2e: $(if $(AWS_SAM_STACK_NAME),$(DEV_READY),venvs) ## End-to-end suite: the stack AWS_SAM_STACK_NAME on AWS if set, else a local one
	$(PY) -m pytest tests/e2e

lint: venvs $(LINT_READY) ## ruff, mypy, cfn-lint (+ serverless rules), sam validate, actionlint, zizmor, checkov
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- template.yaml $(foreach p,$(HUB_PARTS) reprocess push,$($(p)_TEMPLATE))
	$(SAM) validate --lint
	$(LINT_VENV)/bin/actionlint
	$(LINT_VENV)/bin/zizmor --offline --no-progress .github
	$(LINT_VENV)/bin/checkov --config-file .checkov.yaml
	@for t in $(foreach p,$(HUB_PARTS) reprocess push,$($(p)_TEMPLATE)); do $(SAM) validate --lint --template-file $$t; done

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
	@$(TOOL) tools.engine up

down: ## Stop the local engine
	@if [ -x $(PY) ]; then $(TOOL) tools.engine down; else echo "nothing to stop"; fi

build-local: $(DEV_READY) $(SAM_READY) ## sam build for the local engine (this machine's architecture)
	@$(MAKE) build-app-local $(addprefix build-part-,$(HUB_PARTS) reprocess push)  # one at a time: they share .aws-sam/deps

build-app-local: $(DEV_READY) $(SAM_READY)
	@echo "sam build for the local engine: Architecture=$(ARCH) (this machine's CPU, the engine's)" >&2
	@# sam build empties the folder, where a guided deploy saved its answers (and the stack's name)
	@if [ -f $(LOCAL_BUILD_DIR)/samconfig.toml ]; then cp $(LOCAL_BUILD_DIR)/samconfig.toml $(LOCAL_BUILD_DIR).samconfig.toml; fi
	$(SAM) build --config-env local --build-dir $(LOCAL_BUILD_DIR) --parameter-overrides $(LOCAL_PARAMS)
	$(call finish_layers,$(LOCAL_BUILD_DIR))
	@if [ -f $(LOCAL_BUILD_DIR).samconfig.toml ]; then mv $(LOCAL_BUILD_DIR).samconfig.toml $(LOCAL_BUILD_DIR)/samconfig.toml; fi

# One build and cache directory per template, so each rebuilds only what changed. (samconfig.toml,
# which turns on the LanguageExtensions transform's Fn::ForEach for the app, is not read for a
# template in another folder: these commands say it themselves.)
build-part-%: $(DEV_READY) $(SAM_READY)
	$(SAM) build --template-file $($*_TEMPLATE) --build-dir .aws-sam/local-$* --cache-dir .aws-sam/cache/local-$* \
		--cached --parallel --language-extensions --parameter-overrides $(PART_PARAMS)
	$(call finish_layers,.aws-sam/local-$*)

# The hub, then its consumers, then the app (with the pipeline's own package and deploy steps),
# then the stacks beside the app: make reprocess's and the push.
deploy-local: up build-local ## Deploy the hub, both consumers, the app, its reprocess and push stacks to the local engine
	@$(TOOL) tools.build check $(LOCAL_BUILD_DIR)
	$(call deploy_part,hub,$(PART_PARAMS))
	@$(MAKE) $(addprefix deploy-consumer-,$(CONSUMERS))
	@stack=$$($(LOCAL_AWS) $(TOOL) tools.stack name); hub=$(call output,hub,CentralBusArn); \
	$(LOCAL_AWS) $(MAKE) pipeline-package pipeline-deploy BUILD_DIR=$(LOCAL_BUILD_DIR) STACK_NAME="$$stack" \
		ARCHITECTURE=$(ARCH) ARTIFACTS_BUCKET= CFN_ROLE_ARN= PARAMETERS="$(LOCAL_PARAMS) CentralBusArn=$$hub"
	@$(LOCAL_AWS) $(TOOL) tools.local_api  # what the engine drops from SAM's API definition
	@$(MAKE) deploy-reprocess deploy-push

# make reprocess's stack, after the app: its parameters are the app stack's outputs.
deploy-reprocess: $(DEV_READY) $(SAM_READY)
	@stack=$$($(LOCAL_AWS) $(TOOL) tools.stack name 2>/dev/null); \
	wiring=$$($(LOCAL_AWS) $(TOOL) tools.reprocess wiring); \
	$(LOCAL_AWS) $(SAM) deploy --template-file .aws-sam/local-reprocess/template.yaml --stack-name "$$stack-reprocess" \
		--capabilities CAPABILITY_IAM --resolve-s3 --no-confirm-changeset --no-fail-on-empty-changeset --no-progressbar \
		--parameter-overrides $(PART_PARAMS) $$wiring MaxConcurrency=$(REPROCESS_CONCURRENCY) \
		ToleratedFailurePercentage=$(TOLERATED_FAILURE_PERCENTAGE)

reprocess: $(DEV_READY) ## Bring every stored image's outputs to the current specs (DRY_RUN=1: count and price it; PREFIX=uploads/0: a part)
	@$(LOCAL_AWS) $(TOOL) tools.reprocess $(if $(DRY_RUN),dry-run,run) --prefix "$(PREFIX)"

bench-reprocess: venvs ## Reprocess >= 500 stored images on a fresh local stack vs the same jobs in-process (out/)
	@$(MAKE) -s down > /dev/null
	@$(MAKE) -s up
	@mkdir -p .engine out
	@$(MAKE) -s build-local deploy-local > .engine/deploy.log 2>&1 || { tail -n 40 .engine/deploy.log; exit 1; }
	@$(LOCAL_AWS) $(TOOLS_PATH) $(PY) -m tests.bench.reprocess --count $(REPROCESS_IMAGES)

# The push, after the app: the AWS CLI reads the app stack's outputs it takes as parameters.
deploy-push: $(DEV_READY) $(SAM_READY)
	@stack=$$($(LOCAL_AWS) $(TOOL) tools.stack name 2>/dev/null); given="AppStackName=$$stack"; \
	for key in $(PUSH_FROM_APP); do given="$$given $$key=$$($(LOCAL_AWS) $(VENV)/bin/aws cloudformation describe-stacks \
		--stack-name "$$stack" --query "Stacks[0].Outputs[?OutputKey=='$$key'].OutputValue" --output text)"; done; \
	$(LOCAL_AWS) $(SAM) deploy --template-file .aws-sam/local-push/template.yaml --stack-name "$$stack-push" \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --language-extensions --resolve-s3 --no-confirm-changeset \
		--no-fail-on-empty-changeset --no-progressbar --parameter-overrides $(PUSH_PARAMS) $$given

deploy-consumer-%:
	$(call deploy_part,$*,$(PART_PARAMS) HubBusArn=$(call output,hub,CentralBusArn))

define deploy_part
	$(LOCAL_AWS) $(SAM) deploy --template-file .aws-sam/local-$(1)/template.yaml --stack-name $(HUB_STACKS)-$(1) \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --language-extensions --resolve-s3 --no-confirm-changeset --no-fail-on-empty-changeset \
		--no-progressbar --parameter-overrides $(2)
endef

query: $(DEV_READY) ## Run the archive's report queries (consumers/history/queries) on the local stack's Athena
	@$(LOCAL_AWS) $(TOOL) tools.query

local-env: $(DEV_READY) ## Print export lines for the local stack: eval "$(make -s local-env)"
	@$(LOCAL_AWS) $(TOOL) tools.env

stats: $(DEV_READY) ## The day's aggregates (DATE=YYYY-MM-DD, default today), through the aggregates consumer's GraphQL API
	@$(LOCAL_AWS) $(TOOL) tools.hub stats $(if $(DATE),--date $(DATE))

engine-env: ## Print export lines that point AWS clients and the SAM CLI at the local engine
	@$(foreach v,$(LOCAL_AWS),echo "export $(v)";)

events: $(DEV_READY) ## Sample events for the local stack in out/events/ (sam remote invoke --event-file)
	@$(LOCAL_AWS) $(TOOL) tools.events

openapi: $(DEV_READY) ## The API's OpenAPI document, generated from its routes, in out/openapi.json
	@$(TOOL) tools.openapi out/openapi.json

# sam remote invoke does the invoking; tools.events gives the event the stack's names (read-only).
invoke: $(DEV_READY) $(SAM_READY) ## Invoke a deployed function with an event file: make invoke FN=ThumbnailFunction EVENT=events/s3put.json
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make invoke FN=<LogicalId> EVENT=<event file>"; exit 2; }
	@event=$$($(LOCAL_AWS) $(TOOL) tools.events "$(EVENT)"); \
	stack=$$($(TOOL) tools.stack name 2> /dev/null); \
	$(LOCAL_AWS) $(SAM) remote invoke "$(FN)" --stack-name "$$stack" --event-file "$$event"; \
	echo

deploy: $(DEV_READY) $(SAM_READY) ## Build for AWS and deploy with sam deploy --guided (your AWS credentials)
	$(SAM) build
	$(call finish_layers,.aws-sam/build)
	$(SAM) deploy --guided

# ---------------------------------------------------------------- delivery pipeline steps
pipeline-build: $(DEV_READY) $(SAM_READY) ## Build once for AWS, no Docker (ARCHITECTURE=arm64), into BUILD_DIR
	$(SAM) build --build-dir $(BUILD_DIR) --parameter-overrides Architecture=$(ARCHITECTURE)
	$(call finish_layers,$(BUILD_DIR))

pipeline-package: $(SAM_READY) ## Upload BUILD_DIR's code to a stage's ARTIFACTS_BUCKET (none: --resolve-s3)
	$(SAM) package --config-env pipeline --config-file "$(CURDIR)/samconfig.toml" --template-file $(BUILD_DIR)/template.yaml --output-template-file $(PACKAGED) $(ARTIFACTS)

pipeline-deploy: $(SAM_READY) ## Deploy the packaged build as STACK_NAME (CFN_ROLE_ARN, PARAMETERS)
	$(SAM) deploy --config-env pipeline --config-file "$(CURDIR)/samconfig.toml" --template-file $(PACKAGED) --stack-name $(STACK_NAME) $(ARTIFACTS) \
		$(if $(CFN_ROLE_ARN),--role-arn $(CFN_ROLE_ARN)) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
		--no-confirm-changeset --no-fail-on-empty-changeset --no-progressbar \
		--parameter-overrides Architecture=$(ARCHITECTURE) $(PARAMETERS)

clean: down ## Remove build output, reports and the venvs
	rm -rf .aws-sam out .engine $(VENV) $(SAM_VENV) $(ENGINE_VENV) $(LINT_VENV) .pytest_cache .mypy_cache .ruff_cache

# After sam build: the layers leave boto3 and its dependencies to the Lambda runtime, and ship
# their bytecode (Lambda's /opt is read-only, so without it every cold start compiles Powertools,
# pydantic and Pillow again). See tools/build.py.
define finish_layers
	$(TOOL) tools.build layers $(1)
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
	$(1)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r tools/requirements/$(2).txt -c tools/requirements/$(2).constraints.txt
	@touch $(1)/.installed
endef

# Each venv installs its requirements (what we use, pinned) under constraints (every package pip
# resolved for them when the suite last passed: a new release of a dependency's dependency cannot
# change a clean clone; botocore 1.44.18 moved Athena to a protocol the engine does not route).
# After changing a requirement: make venvs constraints, then run the tests.
$(DEV_READY): tools/requirements/dev.txt tools/requirements/dev.constraints.txt layers/shared/requirements.txt \
		layers/pillow/requirements.txt layers/recognition/requirements.txt
	$(call make_venv,$(VENV),dev)

$(SAM_READY): tools/requirements/sam.txt tools/requirements/sam.constraints.txt
	$(call make_venv,$(SAM_VENV),sam)

$(ENGINE_READY): tools/requirements/engine.txt tools/requirements/engine.constraints.txt
	$(call make_venv,$(ENGINE_VENV),engine)

$(LINT_READY): tools/requirements/lint.txt tools/requirements/lint.constraints.txt
	$(call make_venv,$(LINT_VENV),lint)

constraints: ## Record what each venv resolved as its constraints (after changing a requirement)
	@for pair in dev:$(VENV) sam:$(SAM_VENV) engine:$(ENGINE_VENV) lint:$(LINT_VENV); do \
		name=$${pair%%:*}; venv=$${pair#*:}; \
		{ echo "# pip freeze of $$venv after make venvs; make constraints rewrites it"; \
		  $$venv/bin/python -m pip freeze --disable-pip-version-check --exclude-editable; \
		} > tools/requirements/$$name.constraints.txt; \
	done
