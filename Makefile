# hoist — see README.md. Every target works from a clean clone.
GO      ?= go
BIN     := $(CURDIR)/bin
GOFLAGS_BUILD := -trimpath -ldflags "-s -w"
# Packages whose tests need the machine's extras (Docker, Chromium) are
# included: they start what they need or skip with a clear message.
TEST_TIMEOUT ?= 24m
# ARCH cross-builds for a Raspberry Pi (or amd64) into bin/linux-ARCH/;
# unset, `make build` builds for the host into bin/, where tests and
# scripts look. ARCHES are the release architectures.
ARCH   ?=
ARCHES := amd64 arm64 armv7 armv6
goenv.amd64 := GOARCH=amd64
goenv.arm64 := GOARCH=arm64
goenv.armv7 := GOARCH=arm GOARM=7
goenv.armv6 := GOARCH=arm GOARM=6
# The architectures the qemu smoke test (internal/crossarch) runs.
SMOKE_ARCHES := arm64 armv7

.PHONY: all build release-binaries test test-long lint demo demo-docker bench clean

all: build

build:
ifeq ($(ARCH),)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/ ./cmd/...
else
	$(if $(goenv.$(ARCH)),,$(error ARCH=$(ARCH): want one of $(ARCHES)))
	CGO_ENABLED=0 GOOS=linux $(goenv.$(ARCH)) $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/linux-$(ARCH)/ ./cmd/...
endif

# bin/linux-*/ for every release architecture, and bin/SHA256SUMS of them
# (check with: cd bin && sha256sum -c SHA256SUMS).
release-binaries:
	@for a in $(ARCHES); do $(MAKE) --no-print-directory build ARCH=$$a || exit 1; done
	cd $(BIN) && sha256sum $(addprefix linux-,$(addsuffix /*,$(ARCHES))) > SHA256SUMS

# vet for the Pis' architectures too: Stat_t and Statfs_t field types and
# what compiles at all differ there.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOARCH=arm64 $(GO) vet ./...
	GOARCH=arm GOARM=7 $(GO) vet ./...

test: build lint
	@for a in $(SMOKE_ARCHES); do $(MAKE) --no-print-directory build ARCH=$$a || exit 1; done
	HOIST_BIN=$(BIN) $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# Longer crash loops and floods, then every fuzz target for FUZZTIME each.
test-long: build
	HOIST_BIN=$(BIN) HOIST_TEST_LONG=1 $(GO) test -count=1 -timeout 120m ./...
	FUZZTIME=$${FUZZTIME:-5m} ./internal/faults/fuzz.sh

demo: build
	./deploy/demo.sh

demo-docker: build
	./deploy/demo-docker.sh

# Installs what the baselines run when it can (.ci/bench-deps); a
# measurement whose programs are still missing is skipped, not an error.
bench: build
	./.ci/bench-deps
	CGO_ENABLED=0 $(GO) build -o $(BIN)/bench/ ./internal/bench/cmd/...
	HOIST_BIN=$(BIN) $(BIN)/bench/hoistbench --record BENCHMARKS.md

clean:
	rm -rf $(BIN)
