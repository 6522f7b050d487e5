# incidentd: "make run" starts everything on embedded defaults; "make test"
# runs every test. Both do their own set-up. "make help" lists the targets.

GO        ?= go
DATA      ?= ./data
FUZZTIME  ?= 8s
BENCHTIME ?= 1s

# Fuzz targets run by "make test" for FUZZTIME each: package:target.
FUZZ := ./incident:FuzzDecide ./internal/wire:FuzzDecode

.PHONY: help run build test unit fuzz vet fmt bench setup clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: setup build ## start incidentd with all its parts (embedded broker, local ClickHouse) on ./data
	@DATA=$(DATA) deploy/local/run.sh

build: ## build ./bin/incidentd
	$(GO) build -o bin/incidentd ./cmd/incidentd

test: setup vet fmt unit fuzz ## install test components if missing, then vet, gofmt check, every test, short fuzzing

setup: ## install ClickHouse (and Chromium) from Debian if missing
	@deploy/local/setup.sh --browser

unit: ## run every test (starts kfake and ClickHouse itself)
	$(GO) test -count=1 -timeout=20m ./...

fuzz: ## fuzz each decoder and the model for FUZZTIME
	@set -e; for f in $(FUZZ); do pkg=$${f%%:*}; name=$${f##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) $$pkg; done

vet: ## go vet
	$(GO) vet ./...

fmt: ## fail if any file is not gofmt-formatted
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

bench: setup ## run the benchmarks and print a table
	$(GO) test -run='^$$' -bench=. -benchtime=$(BENCHTIME) -count=1 -timeout=30m ./... | tee bench.out | $(GO) run ./internal/benchtable

clean: ## remove build output and local data
	rm -rf bin $(DATA) bench.out
