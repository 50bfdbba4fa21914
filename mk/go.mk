# Go binding (bindings/go/pmq, module github.com/pmq-project/pmq/bindings/go/pmq):
# go vet, the package tests under the race detector (two processes, interop
# with the C examples, 500 waiting goroutines), the Go example, and a
# static build checked with ldd.
#
#   make test-go                      everything below
#   make go-example                   build and run the Go producer/consumer example
#
# cgo finds libpmq through pkg-config: the build tree's pmq-uninstalled.pc
# (`make pc-uninstalled`, mk/install.mk) on PKG_CONFIG_PATH. That .pc adds no
# rpath, so the Go binaries get one through CGO_LDFLAGS.

GO ?= go
GO_DIR := bindings/go/pmq
GO_BUILD = $(abspath $(BUILD))/go
GO_ENV = GOFLAGS=-mod=mod CGO_ENABLED=1 \
	PKG_CONFIG_PATH='$(abspath $(dir $(PC_UNINSTALLED)))' \
	CGO_LDFLAGS='-Wl,-rpath,$(abspath $(TARGET))'
# Static: no pkg-config (-tags pmq_static); libpmq.a and its native libraries
# (the static build docs/src/go.md shows; go-static builds and checks it).
GO_STATIC_ENV = GOFLAGS=-mod=mod CGO_ENABLED=1 \
	CGO_CFLAGS='-I$(CURDIR)/include' \
	CGO_LDFLAGS='$(abspath $(LIB_A)) $(STATIC_LIBS)'

.PHONY: test-go go-vet go-test go-example go-static go-shim-strict

test-go: go-shim-strict go-vet go-test go-example go-static
	@echo "test-go: vet, race tests, example and static build passed"

# The C shims, on their own, with the project's strict C flags.
go-shim-strict:
	$(CC) $(CFLAGS_STRICT) -Iinclude -c $(GO_DIR)/shim.c -o /dev/null

go-vet: lib pc-uninstalled
	cd $(GO_DIR) && $(GO_ENV) $(GO) vet ./...

go-test: lib pc-uninstalled
	@mkdir -p $(GO_BUILD)
	cd $(GO_DIR) && $(GO_ENV) $(GO) test -race -count=1 -v ./... > $(GO_BUILD)/test.log 2>&1; \
	    st=$$?; grep -v '^=== ' $(GO_BUILD)/test.log; exit $$st

go-example: lib pc-uninstalled
	@mkdir -p $(GO_BUILD)
	cd $(GO_DIR) && $(GO_ENV) $(GO) build -o $(GO_BUILD)/example ./example
	$(GO_BUILD)/example both /$(PMQ_TEST_PREFIX)-go-example

# Static link: the binary must not need libpmq.so; then it must run, and a
# few package tests run against the static library too.
go-static: lib
	@mkdir -p $(GO_BUILD)
	cd $(GO_DIR) && $(GO_STATIC_ENV) $(GO) build -tags pmq_static -o $(GO_BUILD)/example-static ./example
	@if ldd $(GO_BUILD)/example-static | grep libpmq; then \
	    echo "go-static: $(GO_BUILD)/example-static needs libpmq.so" >&2; exit 1; fi
	@echo "go-static: example-static does not need libpmq.so"
	$(GO_BUILD)/example-static both /$(PMQ_TEST_PREFIX)-go-example-static > /dev/null
	cd $(GO_DIR) && $(GO_STATIC_ENV) $(GO) test -tags pmq_static -count=1 \
	    -run 'TestVersion|TestSendReceivePriorityOrder|TestErrors|TestNotifyChannelRearm|TestTwoProcessesEcho|TestNoAllocationsPerSendReceive' ./...

test: test-go
