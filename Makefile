# The two commands a newcomer needs: `make run` and `make test`.
GO ?= go
BIN := bin/cortexbench

.PHONY: setup setup-test build run test bench

setup:
	./scripts/setup.sh

setup-test:
	./scripts/setup.sh --test

build: setup
	$(GO) build -o $(BIN) ./cmd/cortexbench

# The main job on the embedded default.
run: build
	./$(BIN) run $(ARGS)

# Every test: the native (OpenBLAS/LAPACKE) build, then the pure-Go build of the math.
test: setup-test
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 75m ./...
	$(GO) test -count=1 -tags purego ./scoring/...

bench: setup
	$(GO) test -run '^$$' -bench . -benchtime 3x ./scoring/...
