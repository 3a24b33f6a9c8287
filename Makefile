# kubectl-egress. `make test` is what CI runs: it builds or installs everything it needs itself.
SHELL := bash
GO ?= go
STATICCHECK_VERSION := v0.8.2
VERSION ?= dev
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
PKG     := github.com/kubectl-egress/kubectl-egress
LDFLAGS := -s -w -X $(PKG)/internal/version.Version=$(VERSION) -X $(PKG)/internal/version.Commit=$(COMMIT) -X $(PKG)/internal/version.Date=$(DATE)
MESH_DIR := $(CURDIR)/.localmesh
FLEET ?= 0
SERVICE_ENTRIES ?= 0

.PHONY: build test lint unit fuzz fuzz-short e2e e2e-rbac soak tools mesh mesh-down demo demo-down bench release release-check fmt

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/kubectl-egress ./cmd/kubectl-egress

fmt:
	gofmt -w $$(git ls-files '*.go')

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# The unit tests hold the parsers to istioctl's reading of the same captures: istioctl is built
# once (cached like the mesh's tools) before they run.
unit:
	KUBECTL_EGRESS_ISTIOCTL=$$(hack/istioctl.sh) $(GO) test -count=1 -timeout 30m ./...

# Every fuzz target (inspect/*_fuzz_test.go: each parser of proxy output and saved files), one
# after the other on one core, FUZZTIME each; a crash is left in testdata/fuzz/ as a regression
# seed that `go test` runs from then on. make test runs each for FUZZTIME_SHORT.
FUZZTIME ?= 10m
FUZZTIME_SHORT ?= 4s
fuzz:
	FUZZTIME=$(FUZZTIME) hack/fuzz.sh

fuzz-short:
	FUZZTIME=$(FUZZTIME_SHORT) FUZZ_SEEDS_ONLY=1 FUZZ_JOBS=2 hack/fuzz.sh

# The end-to-end tests start their own local mesh (etcd, kube-apiserver, controller-manager,
# istiod, kwok and sidecar stand-ins) on loopback; here the plugin runs as the mesh's admin.
e2e: tools build
	KUBECTL_EGRESS_TOOLS=$$(hack/tools.sh) $(GO) test -tags e2e -count=1 -timeout 40m ./e2e/...

# The same suite with the plugin running as a ServiceAccount bound to exactly the roles of
# docs/rbac.yaml (a TokenRequest token): the roles are enough, and they are all it has. make test
# runs this form only: every command of the suite passes with the roles alone, so a second run
# as admin would add ten minutes and no path of the plugin's (the tests' own set-up is admin).
e2e-rbac: tools build
	KUBECTL_EGRESS_TOOLS=$$(hack/tools.sh) KUBECTL_EGRESS_E2E_AS=least-privilege $(GO) test -tags e2e -count=1 -timeout 40m ./e2e/...

test: lint unit fuzz-short e2e-rbac release-check

# The local mesh under steady use: inspect -A every 10 s and a register/undo every minute for
# SOAK_DURATION on a fresh mesh (make test runs a one-minute form at the end of the e2e suite).
SOAK_DURATION ?= 15m
soak: tools build
	KUBECTL_EGRESS_TOOLS=$$(hack/tools.sh) SOAK_DURATION=$(SOAK_DURATION) $(GO) test -tags e2e -count=1 -timeout 60m -run '^TestSoak$$' -v ./e2e/

# The whole release matrix builds, archives and passes the krew manifest checks (hack/archive).
release-check:
	@dist=$$(mktemp -d) && trap 'rm -rf "$$dist"' EXIT && DIST=$$dist hack/release.sh v0.0.0-ci

tools:
	@hack/tools.sh >/dev/null

bin/localmesh: $(shell git ls-files e2e/mesh e2e/sidecar e2e/localmesh)
	$(GO) build -o bin/localmesh ./e2e/localmesh

mesh: tools build bin/localmesh
	bin/localmesh up --dir $(MESH_DIR) --tools $$(hack/tools.sh) --fleet $(FLEET) --service-entries $(SERVICE_ENTRIES)

mesh-down: bin/localmesh
	bin/localmesh down --dir $(MESH_DIR)

demo: mesh
	hack/demo.sh $(MESH_DIR)

demo-down: mesh-down

# Parsers, one pod side by side with istioctl, fleets of 500 and 2,000 pods, and bytes per pod
# with 5,000 ServiceEntries, each on a local mesh of its own; writes BENCHMARKS.md (~25 min).
bench: tools build bin/localmesh
	hack/bench.sh

# make release VERSION=v1.2.3 [PLATFORMS="linux/amd64 darwin/arm64"] [DIST=dist]
release:
	PLATFORMS="$(PLATFORMS)" DIST="$(DIST)" hack/release.sh $(VERSION)
