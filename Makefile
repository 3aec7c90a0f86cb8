# kfed: build, test, lab, demo, bench.
#
# Two commands do all setup on a fresh clone: `make demo` and `make test`.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO ?= go
MODULE := github.com/kfed-dev/kfed

# The version every program, image and release manifest of one make run
# carries (`kubectl fed dns install` deploys the image of its own version):
# a release tag on a clean checkout, else a pre-release of the next version
# numbered by the commits since the last tag, v0.2.0-dev.3+<commit>, so that
# later builds order after earlier ones (hack/gitversion). Expanded once, on
# first use. GIT_COMMIT is the full hash.
ifndef VERSION
VERSION = $(eval VERSION := $(shell $(GO) run ./hack/gitversion 2>/dev/null || echo v0.1.0-dev.0+unknown))$(VERSION)
endif
ifndef GIT_COMMIT
GIT_COMMIT := $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
endif
BUILD_DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
# Recursive, so that a target may set BUILD_DATE (`make image` uses the
# commit's time).
LDFLAGS = -s -w \
	-X $(MODULE)/pkg/version.Version=$(VERSION) \
	-X $(MODULE)/pkg/version.GitCommit=$(GIT_COMMIT) \
	-X $(MODULE)/pkg/version.BuildDate=$(BUILD_DATE)

# The lab's programs are built from the Go module proxy at the versions pinned
# in test/lab/binaries/go.mod (Kubernetes) and here (kwok), and cached under a
# key of those pins and the Go version, so they are rebuilt only when a pin
# changes.
KWOK_VERSION := v0.7.0
LAB_MOD := test/lab/binaries
K8S_VERSION := $(shell awk '$$1 == "k8s.io/kubernetes" { print $$2 }' $(LAB_MOD)/go.mod)
K8S_MINOR := $(word 2,$(subst ., ,$(K8S_VERSION)))
# Builds from the module proxy carry no version; stamp the one Kubernetes'
# own release build would, so clients and version checks see v1.x.y.
LAB_LDFLAGS := -s -w $(foreach pkg,k8s.io/client-go/pkg/version k8s.io/component-base/version,\
	-X $(pkg).gitVersion=$(K8S_VERSION) -X $(pkg).gitMajor=1 -X $(pkg).gitMinor=$(K8S_MINOR) \
	-X $(pkg).gitTreeState=clean -X $(pkg).buildDate=1970-01-01T00:00:00Z)
LAB_KEY := $(shell (cat $(LAB_MOD)/go.mod $(LAB_MOD)/go.sum $(LAB_MOD)/etcd/main.go $(LAB_MOD)/pause/main.go $(LAB_MOD)/hello/main.go; echo '$(LAB_LDFLAGS)') | sha256sum | cut -c1-12)-kwok$(KWOK_VERSION)-$(shell $(GO) env GOVERSION)
LAB_CACHE := $(CURDIR)/.cache/lab
LAB_BIN := $(LAB_CACHE)/$(LAB_KEY)
LAB_DIR ?= $(CURDIR)/.lab
LAB_PROGRAMS := kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet

# Tests and the demo find kubectl, kubectl-fed and coredns-fed on PATH.
TEST_PATH := $(CURDIR)/bin:$(LAB_BIN):$(PATH)
# Real lab nodes run pods with Debian's containerd, runc and CNI plugins;
# installed when missing (nothing starts on install: each node runs its own
# containerd). Without root, the tests and demo steps of real pods skip.
REAL_NODE_PKGS := containerd runc containernetworking-plugins
E2E_TIMEOUT ?= 40m

.PHONY: build
build: ## Build bin/kubectl-fed, bin/coredns-fed and bin/kfed-lab.
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/kubectl-fed ./cmd/coredns-fed ./test/lab/cmd/kfed-lab
	@# kubectl completes a plugin's arguments through kubectl_complete-<plugin>.
	bin/kubectl-fed completion kubectl > bin/kubectl_complete-fed && chmod +x bin/kubectl_complete-fed

# Release platforms; `make dist` cross-compiles both programs for each, as
# many at once as the machine has cores, into DIST_BUILD (Go's build cache
# keeps what did not change).
DIST_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
DIST_BUILD := $(CURDIR)/.cache/dist-build
DIST_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# Where krew downloads the archives from; ${VERSION} and ${ARCHIVE} are
# filled in. krew accepts only http(s): install from local files with
# `kubectl krew install --manifest=dist/fed.yaml --archive=dist/<archive>`.
DIST_URI ?= https://github.com/kfed-dev/kfed/releases/download/$${VERSION}/$${ARCHIVE}
DIST_ARGS = -dir dist -build $(DIST_BUILD) -version '$(VERSION)' -license LICENSE -uri '$(DIST_URI)' -created $(SOURCE_DATE_EPOCH)

# Release binaries are dated by the commit, carry no build ID and no VCS
# stamp (the version and commit come through LDFLAGS): two builds of one
# commit are the same bytes, and so are the archives and sums made of them.
.PHONY: dist-build
dist-build: BUILD_DATE = $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
dist-build:
	@echo "version $(VERSION), commit $(GIT_COMMIT), $(DIST_JOBS) builds at a time"
	rm -rf $(DIST_BUILD) dist && mkdir -p $(DIST_BUILD) dist
	printf '%s\n' $(DIST_PLATFORMS) | xargs -P $(DIST_JOBS) -I{} sh -c 'p={}; os=$${p%/*}; arch=$${p#*/}; echo "building $$p"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -buildvcs=false -ldflags "$(LDFLAGS) -buildid=" \
			-o $(DIST_BUILD)/$${os}_$${arch}/ ./cmd/kubectl-fed ./cmd/coredns-fed'

.PHONY: dist
dist: dist-build ## Cross-compile kubectl-fed and coredns-fed for six platforms into dist/: archives, SBOMs, fed.yaml (krew) and sha256sums.txt.
	$(GO) run ./hack/dist $(DIST_ARGS)

.PHONY: release
release: dist-build ## Everything a release uploads, into dist/: what dist writes, plus coredns-fed's image as an OCI archive with its digest and SBOM.
	$(GO) run ./hack/image -dir $(DIST_BUILD) -platforms '$(IMAGE_PLATFORMS)' -version '$(VERSION)' -revision '$(GIT_COMMIT)' \
		-created $(SOURCE_DATE_EPOCH) -repo '$(IMAGE_REPO)' -digest-file dist/coredns-fed-oci.digest
	$(GO) run ./hack/dist $(DIST_ARGS) -image $(DIST_BUILD)/coredns-fed-oci.tar

# coredns-fed's image: its platforms, where it is written, the repository it
# is named after in the layout, and the time it and its binaries are dated:
# the commit's, so that two builds of one commit give the same digest.
IMAGE_PLATFORMS ?= linux/amd64 linux/arm64
IMAGE_DIR ?= dist/image
IMAGE_REPO ?= ghcr.io/kfed-dev/coredns-fed
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

# The binaries carry the version and commit through LDFLAGS; -buildvcs=false
# keeps Go from stamping them too, since Go counts an untracked file in the
# checkout as a modification and the digest would change with it.
.PHONY: image
image: BUILD_DATE = $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
image: ## Build coredns-fed's image for linux/amd64 and linux/arm64 into dist/image, with no container engine; PUSH=<registry>/<repo> pushes it.
	rm -rf $(IMAGE_DIR) && mkdir -p $(IMAGE_DIR)
	for p in $(IMAGE_PLATFORMS); do \
		echo "building coredns-fed for $$p"; \
		CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -trimpath -buildvcs=false -ldflags '$(LDFLAGS) -buildid=' \
			-o $(IMAGE_DIR)/$${p%/*}_$${p#*/}/coredns-fed ./cmd/coredns-fed; \
	done
	$(GO) run ./hack/image -dir $(IMAGE_DIR) -platforms '$(IMAGE_PLATFORMS)' -version '$(VERSION)' -revision '$(GIT_COMMIT)' \
		-created $(SOURCE_DATE_EPOCH) -repo '$(IMAGE_REPO)' $(if $(PUSH),-push '$(PUSH)')

# The image real lab nodes import, for the machine's platform only: the e2e
# tests of real pods and the demo deploy coredns-fed from it.
LAB_IMAGE := $(CURDIR)/.cache/lab-image/coredns-fed-oci.tar

.PHONY: lab-image
lab-image: ## Build coredns-fed's image for this machine's platform into .cache/lab-image, for real lab nodes.
	$(MAKE) --no-print-directory image IMAGE_PLATFORMS=linux/$(shell $(GO) env GOARCH) IMAGE_DIR=.cache/lab-image PUSH=

.PHONY: image-check
image-check: ## Build the image twice (linux/amd64 only), compare the archives byte for byte, and check them with Debian's skopeo.
	@command -v skopeo >/dev/null || { echo "Installing skopeo, to check the image"; \
		sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y skopeo || { $$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y skopeo; }; }
	$(MAKE) --no-print-directory image IMAGE_PLATFORMS=linux/amd64 IMAGE_DIR=.cache/image-check/1 PUSH=
	$(MAKE) --no-print-directory image IMAGE_PLATFORMS=linux/amd64 IMAGE_DIR=.cache/image-check/2 PUSH=
	cmp .cache/image-check/1/coredns-fed-oci.tar .cache/image-check/2/coredns-fed-oci.tar
	@# skopeo reads the archive, checks every blob against its digest on
	@# the copy, and shows the config as a runtime sees it.
	skopeo copy -q --all oci-archive:.cache/image-check/1/coredns-fed-oci.tar oci:.cache/image-check/copy:check
	cfg=$$(skopeo inspect --config oci-archive:.cache/image-check/1/coredns-fed-oci.tar); \
	[[ $$cfg == *'"User": "65532:65532"'* ]] || { echo "the image does not run as 65532:65532:"; echo "$$cfg"; exit 1; }
	rm -rf .cache/image-check
	@echo "image-check: two builds gave the same archive; skopeo reads it"

.PHONY: docs
docs: ## Write a page per kubectl fed subcommand, from its help, into docs/commands/.
	rm -rf docs/commands
	$(GO) run ./hack/docgen -dir docs/commands

.PHONY: generate
generate: ## Regenerate deepcopy code and the CRDs in deploy/crds from pkg/apis.
	$(GO) generate ./pkg/apis/...

.PHONY: lab-bin
lab-bin: $(LAB_BIN)/.built ## Build the lab's programs (once per pinned version).

$(LAB_BIN)/.built:
	@echo "Building the lab's programs into $(LAB_BIN) (several minutes on a cold module cache)"
	@mkdir -p $(LAB_BIN)
	cd $(LAB_MOD) && $(GO) build -trimpath -ldflags '$(LAB_LDFLAGS)' -o $(LAB_BIN)/ \
		$(addprefix k8s.io/kubernetes/cmd/,$(LAB_PROGRAMS)) ./etcd
	@# The sandbox program and the sample app of real lab nodes go into images of their own: static.
	cd $(LAB_MOD) && CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(LAB_BIN)/ ./pause ./hello
	GOBIN=$(LAB_BIN) GOFLAGS=-trimpath $(GO) install -ldflags '-s -w' sigs.k8s.io/kwok/cmd/kwok@$(KWOK_VERSION)
	ln -sfn $(LAB_KEY) $(LAB_CACHE)/current
	@touch $@

# krew itself, built from its module pinned in test/tools/krew (kfed's own
# go.mod never depends on it), for the end-to-end tests that install
# kubectl-fed from a release as krew users do and run krew's validator.
KREW_KEY := $(shell cat test/tools/krew/go.mod test/tools/krew/go.sum | sha256sum | cut -c1-12)-$(shell $(GO) env GOVERSION)
KREW_BIN := $(CURDIR)/.cache/tools/krew-$(KREW_KEY)

.PHONY: krew-bin
krew-bin: $(KREW_BIN)/.built ## Build krew and its manifest validator (once per pinned version).

$(KREW_BIN)/.built:
	@mkdir -p $(KREW_BIN)
	cd test/tools/krew && $(GO) build -trimpath -ldflags '-s -w' -o $(KREW_BIN)/kubectl-krew sigs.k8s.io/krew/cmd/krew
	cd test/tools/krew && $(GO) build -trimpath -ldflags '-s -w' -o $(KREW_BIN)/ sigs.k8s.io/krew/cmd/validate-krew-manifest
	@touch $@

.PHONY: lab-up
lab-up: build lab-bin ## Start the lab (usa, eur, jpn) in .lab and leave it running.
	bin/kfed-lab up --dir $(LAB_DIR) --bin $(LAB_BIN) $(LAB_ARGS)

.PHONY: lab-down
lab-down: ## Stop every process the lab started, and the demo's coredns-fed and unbound.
	@# The demo's coredns-fed servers with the health plugin take its 5 s
	@# lameduck to exit: they are waited for after the lab is down.
	@pids=""; for pidfile in $(LAB_DIR)/coredns-fed.pid $(LAB_DIR)/coredns-fed-geo.pid $(LAB_DIR)/delegation/*.pid; do if [ -f $$pidfile ]; then pid=$$(cat $$pidfile); \
		if grep -qaE 'coredns-fed|unbound' /proc/$$pid/cmdline 2>/dev/null; then kill $$pid && echo "stopping $$(basename $$pidfile .pid) (pid $$pid)" && pids="$$pids $$pid"; fi; \
		rm -f $$pidfile; fi; done; \
	if [ -x bin/kfed-lab ]; then bin/kfed-lab down --dir $(LAB_DIR); else echo "no lab was started from this checkout"; fi; \
	for pid in $$pids; do for i in $$(seq 1 100); do kill -0 $$pid 2>/dev/null || break; sleep 0.1; done; done

.PHONY: lab-status
lab-status: ## Show the lab's clusters, programs and memory.
	bin/kfed-lab status --dir $(LAB_DIR)

.PHONY: test
test: unit image-check e2e ## Run every test: unit tests, the image's reproducibility, then end-to-end tests in labs of their own.

.PHONY: unit
unit: lint ## Unit tests, with the race detector.
	$(GO) test -race -count=1 ./...

STATICCHECK_VERSION := v0.8.2

.PHONY: lint
lint: ## gofmt, go vet and staticcheck, on unit and e2e code alike.
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^test/lab/binaries/')) ; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/e2e/...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -tags e2e ./test/e2e/...

.PHONY: e2e
e2e: build lab-bin lab-image real-node-pkgs krew-bin ## End-to-end tests; each package starts its own lab.
	@# The delegation tests resolve through Debian's unbound, run in the
	@# foreground on a port of its own, and check the zone with Debian's
	@# zonemaster-cli; the DNSSEC tests validate with BIND's delv too
	@# (bind9-dnsutils). Installing unbound may start its service (where an
	@# init system runs and policy allows): stop and disable it, so that
	@# nothing of it holds 127.0.0.1:53 or rewrites resolv.conf.
	@pkgs=""; command -v unbound >/dev/null || [ -x /usr/sbin/unbound ] || pkgs="unbound"; \
	command -v zonemaster-cli >/dev/null || pkgs="$${pkgs:+$$pkgs }zonemaster-cli"; \
	command -v delv >/dev/null || pkgs="$${pkgs:+$$pkgs }bind9-dnsutils"; \
	[ -z "$$pkgs" ] || { echo "Installing $$pkgs, for the delegation and DNSSEC tests"; \
		sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y $$pkgs || { $$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y $$pkgs; }; \
		case " $$pkgs " in *" unbound "*) \
		if [ -d /run/systemd/system ]; then $$sudo systemctl disable --now unbound-resolvconf.service unbound.service || true; \
		elif command -v service >/dev/null && $$sudo service unbound status >/dev/null 2>&1; then $$sudo service unbound stop || true; fi;; esac; }
	@# First and alone, since it compares the machine before and after a
	@# lab with a real node: the lab's own test of what real nodes change.
	PATH=$(TEST_PATH) KFED_LAB_BIN=$(LAB_BIN) $(GO) test -race -count=1 -tags e2e -timeout 10m -run TestRealNode ./test/lab/
	PATH=$(TEST_PATH) KFED_LAB_BIN=$(LAB_BIN) KFED_COREDNS_FED_IMAGE=$(LAB_IMAGE) KFED_KREW_BIN=$(KREW_BIN) $(GO) test -race -count=1 -tags e2e -timeout $(E2E_TIMEOUT) ./test/e2e/... $(E2E_ARGS)

.PHONY: real-node-pkgs
real-node-pkgs: ## Install Debian's containerd, runc and CNI plugins for real lab nodes, as root; without root, say what is missing.
	@missing=""; for prog in containerd runc; do command -v $$prog >/dev/null || missing="$$missing $$prog"; done; \
	[ -x /usr/lib/cni/bridge ] || missing="$$missing containernetworking-plugins"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then echo "Not installing$$missing (not root): the tests and demo steps of real pods will skip. As root: apt-get install -y $(REAL_NODE_PKGS)"; exit 0; fi; \
	echo "Installing $(REAL_NODE_PKGS), for real lab nodes"; \
	env DEBIAN_FRONTEND=noninteractive apt-get install -y $(REAL_NODE_PKGS) || { apt-get update && env DEBIAN_FRONTEND=noninteractive apt-get install -y $(REAL_NODE_PKGS); }

.PHONY: demo
demo: build lab-bin lab-image real-node-pkgs ## Start the lab and show it working.
	PATH=$(TEST_PATH) $(GO) run ./test/demo -dir $(LAB_DIR) -bin $(LAB_BIN) -image $(LAB_IMAGE)

# Where `make bench` writes what it measured: targets.jsonl, the targets of
# issue 16 that each part records for the summary, and the cost curves'
# CSV and charts. Emptied at the start of each run.
BENCH_OUT ?= $(CURDIR)/.cache/bench
# Debian's packages the DNS benchmark runs: dnsperf is the load, knot's
# knotd the ceiling coredns-fed is measured against, and unbound the
# resolver its failover part asks through.
BENCH_PKGS := dnsperf knot unbound
# The scale part of `make bench` runs its small grid (short: 1, 3 and 5
# members x 100 and 1,000 Services), sampling the
# targets of 20 members x 2,500 Services within the run's time bound;
# BENCH_SCALE=full runs issue 16's whole grid of 1, 5, 10 and 20 members x
# 100, 1,000 and 2,500 Services (hours, and about 20 GiB at 20 x 2,500).
BENCH_SCALE ?= short
# The total time of `make bench`, build included, is itself a target.
bench: BENCH_START := $(shell date +%s)

.PHONY: bench
bench: build lab-bin ## Benchmarks, each against its baseline in the same run, then one table of issue 16's targets; BENCH_SCALE=full for the whole scale grid; BENCH_APPLY_ARGS, BENCH_DNS_ARGS, BENCH_SCALE_ARGS pass flags.
	@# knot's and unbound's packages start their services where an init
	@# system runs and policy allows, on port 53: stop and disable them,
	@# the bench runs knotd and unbound itself on ports of its own.
	@missing=""; command -v dnsperf >/dev/null || missing="dnsperf"; \
	command -v knotd >/dev/null || [ -x /usr/sbin/knotd ] || missing="$${missing:+$$missing }knot"; \
	command -v unbound >/dev/null || [ -x /usr/sbin/unbound ] || missing="$${missing:+$$missing }unbound"; \
	[ -z "$$missing" ] || { echo "Installing $$missing, for the DNS benchmark"; \
		sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing || { $$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; }; \
		case " $$missing " in *" knot "*) \
		if [ -d /run/systemd/system ]; then $$sudo systemctl disable --now knot.service || true; \
		elif command -v service >/dev/null && $$sudo service knot status >/dev/null 2>&1; then $$sudo service knot stop || true; fi;; esac; \
		case " $$missing " in *" unbound "*) \
		if [ -d /run/systemd/system ]; then $$sudo systemctl disable --now unbound-resolvconf.service unbound.service || true; \
		elif command -v service >/dev/null && $$sudo service unbound status >/dev/null 2>&1; then $$sudo service unbound stop || true; fi;; esac; }
	rm -rf $(BENCH_OUT) && mkdir -p $(BENCH_OUT)
	@# A failed part does not keep the others or the summary from running;
	@# the run fails at the end. Each part's time goes to times.txt, for
	@# the summary.
	@status=0; \
	t=$$(date +%s); PATH=$(TEST_PATH) KFED_LAB_BIN=$(LAB_BIN) KFED_BENCH_OUT=$(BENCH_OUT) $(GO) run ./test/bench/apply $(BENCH_APPLY_ARGS) || status=1; \
	echo "apply $$(( $$(date +%s) - t ))" >> $(BENCH_OUT)/times.txt; \
	t=$$(date +%s); PATH=$(TEST_PATH) KFED_LAB_BIN=$(LAB_BIN) KFED_BENCH_OUT=$(BENCH_OUT) $(GO) run ./test/bench/dns $(BENCH_DNS_ARGS) || status=1; \
	echo "dns $$(( $$(date +%s) - t ))" >> $(BENCH_OUT)/times.txt; \
	t=$$(date +%s); PATH=$(TEST_PATH) KFED_LAB_BIN=$(LAB_BIN) KFED_BENCH_OUT=$(BENCH_OUT) $(GO) run ./test/bench/dns -parts scale $(BENCH_SCALE_FLAGS) $(BENCH_SCALE_ARGS) || status=1; \
	echo "scale $$(( $$(date +%s) - t ))" >> $(BENCH_OUT)/times.txt; \
	$(GO) run ./test/bench/summary -dir $(BENCH_OUT) -start $(BENCH_START) $(if $(filter full,$(BENCH_SCALE)),-limit 0); \
	exit $$status

BENCH_SCALE_FLAGS = $(if $(filter full,$(BENCH_SCALE)),,$(if $(filter short,$(BENCH_SCALE)),-short,$(error BENCH_SCALE is "$(BENCH_SCALE)": set it to short or full)))

.PHONY: bench-scale
bench-scale: build lab-bin ## coredns-fed at scale alone: issue 16's whole grid, up to 20 members x 2,500 Services (BENCH_SCALE_ARGS=-short to check it works).
	PATH=$(TEST_PATH) KFED_LAB_BIN=$(LAB_BIN) $(GO) run ./test/bench/dns -parts scale $(BENCH_SCALE_ARGS)

# Each fuzz target runs this long; a new interesting input is minimized for
# at most FUZZMINIMIZETIME, so that minimizing does not eat the run.
FUZZTIME ?= 2m
FUZZMINIMIZETIME ?= 10s

.PHONY: fuzz
fuzz: ## Run every fuzz target (manifests, placement annotations, DNS) for FUZZTIME each, one after another.
	@# The targets are found, not listed: a new FuzzXxx runs without an edit
	@# here. Their seed corpora run with the unit tests; this goes further.
	@dirs=$$(git ls-files -co --exclude-standard '*_test.go' | grep -v '^test/lab/binaries/' | xargs grep -l '^func Fuzz' | xargs -n1 dirname | sort -u); \
	for dir in $$dirs; do \
		for target in $$($(GO) test -list '^Fuzz' ./$$dir | grep '^Fuzz'); do \
			echo "fuzzing $$target in ./$$dir for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) ./$$dir; \
		done; \
	done

.PHONY: fmt
fmt:
	gofmt -w $$(git ls-files '*.go')

.PHONY: clean
clean: lab-down ## Remove build output and the lab's directory (not the cached lab programs).
	rm -rf bin $(LAB_DIR)

.PHONY: help
help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'
