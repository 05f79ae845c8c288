# xtgt — see README.md. `make run` serves the default target; `make test` runs everything.
GO      ?= go
BIN     := bin
PKGS    := ./...
PORT    ?= 3260

.PHONY: all build run test unit deps conformance bench generate lint clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

run: build
	./$(BIN)/xtgtd

# Everything: Debian test tools (when root), vet, unit + privileged tests with fuzz seed corpora, conformance.
test: deps lint build unit conformance

deps:
	@tools/deps.sh

unit:
	$(GO) test -count=1 -timeout 15m $(PKGS)

conformance: build
	tools/conformance.sh

bench: build
	tools/bench.sh

generate:
	$(GO) generate ./bpf/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf $(BIN)
