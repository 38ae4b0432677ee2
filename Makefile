# Tashi-Go. `make up` runs a one-machine cluster in the foreground;
# `make test` runs every test. Both first run scripts/setup.sh, which
# installs what is missing from Debian's packages.

GO       ?= go
BIN      := bin
STATE    ?= $(CURDIR)/.state
VERSION  ?= dev
LDFLAGS  := -X github.com/tashi-go/tashi/clustermanager.Version=$(VERSION) \
            -X github.com/tashi-go/tashi/nodemanager.Version=$(VERSION)
CMDS     := tashi tashi-cm tashi-nm tashi-agent

.PHONY: all build setup up test bench fuzz vet clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(CMDS))

setup:
	@scripts/setup.sh

# up: the cluster manager with its embedded PostgreSQL, a node manager for
# this host and an agent, state under $(STATE), in the foreground; Ctrl-C
# stops everything it started (scripts/up.sh). The CM writes
# ~/.tashi/Client.cfg (only if absent or written by an earlier `make up`)
# so that bin/tashi in another terminal finds it and the admin token.
up: setup build
	STATE=$(STATE) BIN=$(CURDIR)/$(BIN) scripts/up.sh

test: setup
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

# bench: the cluster manager's figures, then the node manager's with real
# guests, then placement (throughput, data locality), DHCP, DNS and the
# time from createVm to a guest answering ping by name; each prints
# markdown tables.
bench: setup
	$(GO) run ./cmd/tashi-bench
	TASHI_BENCH=1 $(GO) test -count=1 -run TestBenchGuests -v -timeout 30m ./nodemanager/ | grep -v '^=== \|^--- \|^PASS\|^ok '
	TASHI_BENCH=1 $(GO) test -count=1 -run 'TestPlaceThroughputTable|TestLocalityTable' -v ./scheduler/ | grep -v '^=== \|^--- \|^PASS\|^ok '
	TASHI_BENCH=1 $(GO) test -count=1 -run TestBenchDHCP -v ./plugins/dhcp/ | grep -v '^=== \|^--- \|^PASS\|^ok '
	TASHI_BENCH=1 $(GO) test -count=1 -run TestBenchDNS -v ./plugins/dns/ | grep -v '^=== \|^--- \|^PASS\|^ok '
	TASHI_BENCH=1 $(GO) test -count=1 -run TestNetworksAcrossHosts -v -timeout 15m ./nodemanager/ | grep '^|\|^$$

# fuzz: a short run of every fuzz target (FUZZTIME each).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list 'Fuzz.*' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run XXX -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; done

vet:
	$(GO) vet ./...

clean:
	rm -rf $(BIN)
