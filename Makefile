# xtgt — see README.md. `make run` serves the default target; `make test` runs everything.
GO      ?= go
BIN     := bin
PKGS    := ./...
PORT    ?= 3260

.PHONY: all build run test unit deps conformance xdp-conformance bench generate generate-check lint clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

run: build
	./$(BIN)/xtgtd

# Everything: Debian test tools (when root), vet, unit + privileged tests with fuzz seed corpora, conformance.
test: deps lint generate-check build unit conformance

deps:
	@tools/deps.sh

unit:
	$(GO) test -count=1 -timeout 15m $(PKGS)

conformance: build
	tools/conformance.sh

# libiscsi through the AF_XDP portal vs the kernel-TCP portal, in network namespaces (root; ~8 min; not in test).
xdp-conformance: build
	tools/xdp-conformance.sh

bench: build
	tools/bench.sh

generate:
	$(GO) generate ./bpf/...

# The committed bpf2go output must match what clang builds from bpf/steer.c (skipped without clang).
generate-check:
	@if command -v clang >/dev/null 2>&1 && [ -e /usr/include/bpf/bpf_helpers.h ]; then \
	  t=$$(mktemp -d); cp bpf/steer_bpfel.go bpf/steer_bpfel.o $$t/; \
	  $(GO) generate ./bpf/... >/dev/null; \
	  if cmp -s $$t/steer_bpfel.o bpf/steer_bpfel.o && cmp -s $$t/steer_bpfel.go bpf/steer_bpfel.go; then rm -rf $$t; \
	  else cp $$t/steer_bpfel.go $$t/steer_bpfel.o bpf/; rm -rf $$t; echo "bpf bindings are stale: run make generate and commit"; exit 1; fi; \
	else echo "generate-check: clang or libbpf-dev missing, not checking bpf bindings"; fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf $(BIN)
