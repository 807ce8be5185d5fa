# Postern build and test entry points. `make test` is what CI runs.
GO      ?= go
PKGS     = $(shell $(GO) list ./... | grep -v -e '/e2e$$' -e '/bench')
FUZZTIME ?= 10s

.PHONY: all build deps vet unit e2e e2e-race test bench bench-scale bench-compare fuzz clean

all: build

build:
	$(GO) build -o bin/postern ./cmd/postern

deps:
	scripts/deps.sh

vet:
	$(GO) vet ./...

# Unit tests of every package except the end-to-end suite and benchmarks.
unit:
	$(GO) test -race -timeout 8m $(PKGS)

# End-to-end tests: TestMain builds the binary once into a temp dir.
e2e:
	$(GO) test -count=1 -timeout 15m ./e2e/

# The same with the race detector built into the server binary.
e2e-race:
	POSTERN_E2E_RACE=1 $(GO) test -count=1 -timeout 20m ./e2e/

test: deps vet unit e2e

# Each benchmark runs its whole workload once against the real binary and
# reports figures (msgs/s, CPU per message, RSS). For ratios against Postfix +
# Dovecot and maddy in the same run, use bench-compare.
bench:
	$(GO) test -bench . -benchtime 1x -run '^$$' -timeout 20m ./bench/

# 1,000,000 messages into one instance (about an hour and 14 GB of disk):
# delivery rate at the start and at the end, SELECT and SEARCH BODY on a
# 100,000-message mailbox, the sizes on disk. SCALE_N=200000 for a shorter run.
bench-scale:
	$(GO) test -tags scale -bench Scale -benchtime 1x -run '^$$' -timeout 6h -v ./bench/

# Side by side with the reference servers of ../shared/bench (needs its
# one-time peers/setup.sh as root). WORKLOADS=smtp4k,pop3 by default.
bench-compare:
	bench/compare.sh $(WORKLOADS)

# Run every fuzz target for FUZZTIME, one at a time (go test allows only one
# -fuzz target per invocation).
fuzz:
	@set -e; for pkg in $(PKGS); do \
		dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
		for fz in $$(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(' $$dir/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' | sort -u); do \
			echo "== $$pkg $$fz"; \
			$(GO) test -run '^$$' -fuzz "^$$fz$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

clean:
	rm -rf bin
