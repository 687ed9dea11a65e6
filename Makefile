# gantry's build, test and local-cluster recipes. `make test` and
# `make run` work on a fresh machine: every tool they need is built from
# the Go module proxy or fetched from the npm registry into a per-machine
# cache, once.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export GOTOOLCHAIN := local

GANTRY_CACHE ?= $(HOME)/.cache/gantry
export GANTRY_CACHE

# Versions of the local cluster's parts. The Kubernetes version comes from
# tools/kube/go.mod, which a test keeps equal to go.mod's client-go minor.
KUBE_VERSION := $(shell sed -n 's|^[[:space:]]*\(require \)\{0,1\}k8s.io/kubernetes \(v[0-9.]*\).*|\2|p' tools/kube/go.mod)
ETCD_VERSION := $(shell sed -n 's|^[[:space:]]*\(require \)\{0,1\}go.etcd.io/etcd/server/v3 \(v[0-9.]*\).*|\2|p' tools/etcd/go.mod)
KWOK_VERSION := v0.7.0

KUBE_ASSETS := $(GANTRY_CACHE)/kube/k8s-$(KUBE_VERSION)_etcd-$(ETCD_VERSION)_kwok-$(KWOK_VERSION)
export GANTRY_KUBE_ASSETS := $(KUBE_ASSETS)

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS = -s -w -X github.com/gantryops/gantry/cmd/gantry/cli.Version=$(VERSION) -X github.com/gantryops/gantry/cmd/gantry/cli.Commit=$(COMMIT)

KUBE_MINOR = $(word 2,$(subst ., ,$(KUBE_VERSION)))
KUBE_LDFLAGS := -s -w \
	$(foreach p,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
	-X $(p).gitVersion=$(KUBE_VERSION) -X $(p).gitMajor=1 -X $(p).gitMinor=$(KUBE_MINOR) -X $(p).gitTreeState=clean)

KUBE_BINS := kube-apiserver kube-controller-manager kube-scheduler kubectl

.PHONY: all build image test fuzz run run-cli bench soak kube-bin openapi-data github-spec browser-deps vet fmt clean-cache help

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build bin/gantry
	go build -ldflags '$(LDFLAGS)' -o bin/gantry ./cmd/gantry

# The image's version is the chart's appVersion, so the chart's default
# image is the one built here (tools/image's test checks); the commit's
# time (or SOURCE_DATE_EPOCH) dates every file, so a commit gives one
# digest. tools/image writes the archive; no container engine is needed.
APP_VERSION := $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$$/\1/p' charts/gantry/Chart.yaml)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

image: VERSION = $(APP_VERSION)
image: ## build bin/gantry-image.tar: gantry for linux/amd64 on an empty base, an OCI layout that is also a docker-archive
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/linux_amd64/gantry ./cmd/gantry
	cd tools/image && go build -o ../../bin/image-tool .
	bin/image-tool --binary bin/linux_amd64/gantry --version $(VERSION) \
		--revision "$$(git rev-parse HEAD 2>/dev/null || echo unknown)" --created $(SOURCE_DATE_EPOCH) --out bin/gantry-image.tar

# ---- the local cluster's binaries, built once per machine -------------

kube-bin: $(addprefix $(KUBE_ASSETS)/,$(KUBE_BINS) etcd kwok) ## build etcd, kube-apiserver, controllers, kubectl and kwok into the cache
	@ln -sfn $(KUBE_ASSETS) $(GANTRY_CACHE)/kube/current
	@echo "local cluster binaries: $(KUBE_ASSETS)"

# The cache directory's name carries every version, so a binary that exists
# is current: the targets have no prerequisites (a fresh clone's file times
# must not trigger a rebuild).
# One go build for the four Kubernetes commands: they share most packages.
$(addprefix $(KUBE_ASSETS)/,$(KUBE_BINS)) &:
	@mkdir -p $(KUBE_ASSETS)
	@echo "building Kubernetes $(KUBE_VERSION) binaries (a few minutes on a cold machine)"
	cd tools/kube && go build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $(KUBE_ASSETS)/ \
		$(addprefix k8s.io/kubernetes/cmd/,$(KUBE_BINS))

$(KUBE_ASSETS)/etcd:
	@mkdir -p $(KUBE_ASSETS)
	cd tools/etcd && go build -trimpath -ldflags '-s -w' -o $@ go.etcd.io/etcd/server/v3

$(KUBE_ASSETS)/kwok:
	@mkdir -p $(KUBE_ASSETS)
	GOBIN=$(KUBE_ASSETS) GOFLAGS=-mod=mod go install -trimpath sigs.k8s.io/kwok/cmd/kwok@$(KWOK_VERSION)

# ---- GitHub's published REST description and example deliveries -------

# hack/github-spec.sh pins the npm versions and installs them once per
# machine; the simulator's tests read the directory from GANTRY_GITHUB_SPEC.
openapi-data: kube-bin ## regenerate schema/data (offline validation) from the cached kube-apiserver's /openapi/v3
	go run ./hack/openapigen -out schema/data

github-spec: ## fetch GitHub's OpenAPI description and webhook examples into the cache
	@bash hack/github-spec.sh >/dev/null

GITHUB_SPEC = $(shell bash hack/github-spec.sh 2>/dev/null)

# ---- tests -------------------------------------------------------------

# The run page's test loads it in headless Chromium (Debian's package);
# installed once, as root (CI), when no chromium is on the PATH.
browser-deps: ## install Chromium for the web page's browser test, once
	@command -v chromium >/dev/null || { apt-get update && apt-get install -y chromium; }

vet: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	go vet ./...
	cd tools/image && go vet ./...

test: kube-bin github-spec browser-deps vet ## set up everything and run every test, then a short run of every fuzz target
	GANTRY_GITHUB_SPEC=$(GITHUB_SPEC) go test -count=1 -timeout 40m ./...
	cd tools/image && go test -count=1 -timeout 10m ./...
	@$(MAKE) --no-print-directory fuzz

# Every fuzz target, as package:Target. Their seed corpora live under each
# package's testdata/fuzz/ and run with every `go test`; `make fuzz` adds
# FUZZTIME of new inputs each (longer on demand: make fuzz FUZZTIME=10m).
FUZZ_TARGETS := \
	./bot:FuzzParseComment ./bot:FuzzWebhook ./bot/marker:FuzzOpen ./bot/marker:FuzzQuote \
	./bot/report:FuzzComment ./config:FuzzParseRepo ./render:FuzzPlainYAML ./render:FuzzHelmTemplate \
	./cluster:FuzzMaskSecrets ./cluster:FuzzUnified ./cluster:FuzzReason ./promote:FuzzMergeYAML ./fixtures/githubsim:FuzzNarrow ./fixtures/githubsim:FuzzMergeability
FUZZTIME ?= 5s

fuzz: ## run each fuzz target for FUZZTIME (default 5s)
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; echo "== fuzz $$name ($$pkg, $(FUZZTIME))"; \
	  GANTRY_GITHUB_SPEC=$(GITHUB_SPEC) bash hack/fuzz-one.sh "$$pkg" "$$name" "$(FUZZTIME)" || exit 1; \
	done

SAMPLE := fixtures/repos/sample

# The main job on one machine: a local cluster, the GitHub simulator and
# the bot, a scripted story of pull requests, then the sandbox stays up to
# play with by hand until Ctrl-C. SANDBOX_FLAGS adds flags, e.g.
# `make run SANDBOX_FLAGS=--once` (CI) or `SANDBOX_FLAGS="--state-file s.json"`.
SANDBOX_FLAGS ?=

run: kube-bin github-spec build ## gantry sandbox: a local cluster, a GitHub simulator, the bot and a story of pull requests
	bin/gantry sandbox $(SANDBOX_FLAGS)

# The CLI on its own: on a fresh local cluster, render the sample
# repository, diff it (exit 1: changes), apply it, and diff again (exit 0:
# nothing left to change).
run-cli: kube-bin build bin/with-cluster ## render, diff and apply the sample repository on a local cluster with the CLI
	bin/with-cluster --controllers -- bash -euo pipefail -c '\
	  echo "== gantry render"; bin/gantry render --repo $(SAMPLE) | grep -E "^(# app|kind:)"; \
	  echo "== gantry diff (changes expected: exit 1)"; rc=0; bin/gantry diff --repo $(SAMPLE) -o markdown || rc=$$?; test $$rc -eq 1; \
	  echo "== gantry apply --prune --wait"; bin/gantry apply --repo $(SAMPLE) --prune --wait; \
	  echo "== gantry diff (in sync: exit 0)"; bin/gantry diff --repo $(SAMPLE)'

bin/with-cluster: $(shell find fixtures/localcluster -name '*.go')
	go build -o $@ ./fixtures/localcluster/cmd/with-cluster

# Each benchmark prints gantry's figure beside its anchor (the CLI it
# replaces, or the floor), measured in the same run.
# The reliability suite: every TestSoak scenario (load and faults injected
# into the real parts, nothing lost or duplicated), then its table. The
# short form also runs in `make test`; SOAK=long is the long form, and
# SOAK_OUT=docs/reliability.md writes the table there for the README.
SOAK ?= short
SOAK_OUT ?=
soak: kube-bin github-spec ## the reliability suite and its table (SOAK=long for the long form)
	@rm -f bin/soak.jsonl; mkdir -p bin
	GANTRY_SOAK=$(SOAK) GANTRY_SOAK_TABLE=$(CURDIR)/bin/soak.jsonl GANTRY_GITHUB_SPEC=$(GITHUB_SPEC) \
		go test -count=1 -timeout 90m -run '^(TestSoak|TestLeaderKilled)' ./bot/ ./hatest/
	@go run ./hack/soaktable $(if $(SOAK_OUT),-o $(SOAK_OUT)) bin/soak.jsonl

bench: kube-bin github-spec ## benchmarks side by side with kustomize/helm, conftest, kubectl and the dry-run floor
	@echo "== render: gantry vs kustomize and helm CLIs"; bash hack/bench-render.sh 10
	@echo "== policy: gantry vs conftest"; bash hack/bench-policy.sh
	@echo "== cluster: gantry diff/apply vs kubectl and the bare dry-run floor"; bash hack/bench-cluster.sh
	@echo "== bot: webhook to checks in progress and to the final comment; merge to applied beside the CLI"; bash hack/bench-bot.sh
	@echo "== drift: an out-of-band edit to its drift pull request; idle watches"; bash hack/bench-drift.sh
	@echo "== burst: pull requests planned per minute by 1, 2 and 4 workers; webhook to checks in progress under the burst"; bash hack/bench-burst.sh
	@echo "== shards: pull requests planned per minute by 1, 2 and 4 sharded replicas (processes), and with one SIGKILLed mid-burst"; bash hack/bench-shards.sh
	@echo "== offline: schema validation beside the live dry-run diff of the same objects"; go test ./schema -run '^$$' -bench OfflineVersusLiveDryRun -benchtime 5x
	@echo "== helm: a chart templated once and twice (finding fields that are not deterministic)"; go test ./render -run '^$$' -bench HelmSecondRender -benchtime 10x
	@echo "== render worker: one render in process and in the worker"; go test ./renderworker -run '^$$' -bench Render -benchtime 20x

clean-cache: ## remove the per-machine cache (binaries, specs)
	rm -rf $(GANTRY_CACHE)
