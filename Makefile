# Meridian. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Packages under test; the race detector needs cgo, which Debian's gcc gives.
PKGS := ./...
# Each fuzz target runs this long in `make fuzz`.
FUZZTIME ?= 60s
# Benchmarks: iterations are bounded by -benchtime, never by wall clock in tests.
BENCHTIME ?= 1s

.PHONY: help deps dns-conformance build run test test-short lint fmt vet staticcheck fuzz bench e2e verify clean tools

help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/meridian
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/meridian ./cmd/meridian

run: build ## run the all-in-one demo: embedded etcd, DNS on 127.0.0.1:5353, proxies on loopback
	$(BIN)/meridian dev

# Tools the tests run as a person would (the cheat sheet test pastes dig,
# etcdctl and curl commands); installed from Debian's archive when missing.
TEST_TOOLS := dig:bind9-dnsutils etcdctl:etcd-client curl:curl

deps: ## install the Debian packages the tests use, if missing (needs root or sudo)
	@missing=""; for t in $(TEST_TOOLS); do command -v $${t%%:*} >/dev/null || missing="$$missing $${t#*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

test: deps ## run every test with the race detector (the CI command)
	$(GO) test -race -shuffle=on -count=1 -timeout 9m $(PKGS)

test-short: ## quick tests without the race detector
	$(GO) test -short -count=1 $(PKGS)

lint: fmt vet staticcheck ## gofmt, go vet and staticcheck

fmt: ## fail if gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet: ## go vet
	$(GO) vet $(PKGS)

$(BIN)/staticcheck: tools.mod tools.sum
	$(GO) build -modfile=tools.mod -o $@ honnef.co/go/tools/cmd/staticcheck

tools: $(BIN)/staticcheck ## build the pinned lint tools (tools.mod keeps them out of go.sum)

staticcheck: $(BIN)/staticcheck ## staticcheck, pinned in tools.mod
	$(BIN)/staticcheck $(PKGS)

fuzz: ## run every fuzz target for FUZZTIME each (default 60s)
	@for pkg in $$($(GO) list $(PKGS)); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f ($(FUZZTIME))"; \
	    if ! $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; then \
	      if [ -n "$$(ls -A $$dir/testdata/fuzz/$$f 2>/dev/null | head -1)" ] && [ -n "$$(git status --porcelain -- $$dir/testdata/fuzz/$$f)" ]; then exit 1; fi; \
	      echo "== $$f failed without a crasher (golang/go#75804, fixed in Go 1.27): once more"; \
	      $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	    fi; \
	  done; \
	done

bench: ## Go benchmarks of the hot paths (-benchmem); see docs/benchmarks.md
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./gslb/... ./dnsserver/... ./regionproxy/... ./bench/hotpath/

dns-conformance: ## DNS conformance: dig/kdig/delv, zonemaster-cli and unbound against meridian dev and meridian dns (root; conformance/README.md)
	bash conformance/run.sh

e2e: ## end-to-end tests only (embedded etcd, DNS, proxies on loopback)
	$(GO) test -race -count=1 -timeout 9m ./e2e/...

verify: lint test ## everything CI checks

include bench/Makefile.inc

clean: ## remove build output
	rm -rf $(BIN)
