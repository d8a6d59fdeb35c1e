# hoist — see README.md. Every target works from a clean clone.
GO      ?= go
BIN     := $(CURDIR)/bin
GOFLAGS_BUILD := -trimpath -ldflags "-s -w"
# Packages whose tests need the machine's extras (Docker, Chromium) are
# included: they start what they need or skip with a clear message.
TEST_TIMEOUT ?= 24m

.PHONY: all build test test-long lint demo demo-docker bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN)/ ./cmd/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: build lint
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
