# authd: `make run` serves, `make test` tests. Both install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := .venv
PYTHON      := $(VENV)/bin/python
APT_PACKAGES := protobuf-compiler protobuf-c-compiler libprotobuf-c-dev libsqlite3-dev libssl-dev libcurl4-openssl-dev pkg-config
DATA_DIR    ?= var
HOST        ?= 127.0.0.1
PORT        ?= 7400
GENERATED   := Sources/CAuthProto Sources/AuthWire/Generated Sources/AuthAPI/Generated \
               Tests/AuthWireTests/Generated clients/python/auth

.PHONY: help deps apt-deps python-deps generate check-generated build build-release run test \
        test-swift test-postgres test-python bench bench-peers bench-micro dist dist-check clean

help:
	@echo "make run              install what is missing, build, start authd on $(DATA_DIR)/authd.sqlite"
	@echo "                      and auth-mailer writing emails to $(DATA_DIR)/mail-out"
	@echo "make test             install what is missing, check generated code, run every test"
	@echo "make test-postgres    the end-to-end flow suites again, on a private PostgreSQL server"
	@echo "make generate         regenerate C, Swift and Python code from proto/"
	@echo "make check-generated  fail when generated code is stale"
	@echo "make bench            release build, then the load benchmarks of docs/benchmarks.md"
	@echo "make bench-peers      authd beside a bare NIO echo and grpc-swift-2 (Benchmarks/, PEERS_ARGS=...)"
	@echo "make bench-micro      micro-benchmarks of the wire code (Benchmarks/, ordo-one/benchmark)"
	@echo "make dist             release tarball in dist/ (static Swift runtime, units, docs; slow)"
	@echo "make dist-check       unpack the tarball, run it without the Swift toolchain, health check"

deps: apt-deps python-deps

# apt-get only when a package is missing: a warm machine starts in no time.
apt-deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

python-deps: $(VENV)/.installed

$(VENV)/.installed: clients/python/requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check -r clients/python/requirements.txt
	touch $@

generate: deps
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" tools/generate.sh

check-generated: generate
	@if ! git diff --quiet -- $(GENERATED) || [ -n "$$(git ls-files --others --exclude-standard -- $(GENERATED))" ]; then \
	    git status --short -- $(GENERATED); \
	    echo "generated code is stale: run 'make generate' and commit the result"; exit 1; \
	fi
	@echo "generated code is up to date"

build: apt-deps
	swift build

build-release: apt-deps
	swift build -c release

run: deps build
	DATA_DIR=$(DATA_DIR) HOST=$(HOST) PORT=$(PORT) tools/run.sh

test: deps check-generated test-swift test-python

# The storage role suites run on SQLite and on a private PostgreSQL server
# (tools/postgres-test-server.sh installs and starts it, and stops it after).
test-swift: apt-deps
	swift build --build-tests
	url=$$(tools/postgres-test-server.sh start) && trap 'tools/postgres-test-server.sh stop' EXIT && \
	    AUTHD_TEST_POSTGRES_URL=$$url swift test --skip-build

# The end-to-end flow suites again, with every test authd on PostgreSQL.
test-postgres: apt-deps
	swift build --build-tests
	url=$$(tools/postgres-test-server.sh start) && trap 'tools/postgres-test-server.sh stop' EXIT && \
	    AUTHD_TEST_POSTGRES_URL=$$url AUTHD_TEST_STORE=postgres swift test --skip-build --filter AuthServerTests

# The two-process PostgreSQL tests (test_postgres.py) get a private server too.
test-python: python-deps build
	url=$$(tools/postgres-test-server.sh start) && trap 'tools/postgres-test-server.sh stop' EXIT && \
	    AUTHD_TEST_POSTGRES_URL=$$url AUTHD_BIN=$(CURDIR)/.build/debug/authd $(PYTHON) -m pytest clients/python -q

bench: build-release
	tools/bench.sh

# The peer harness (Benchmarks/, its own package): release authd, echo and grpc-swift-2
# servers, one closed-loop client, the table of docs/benchmarks.md. PEERS_ARGS passes
# options, e.g. PEERS_ARGS="--configs 4x16 --rounds 5" (see Benchmarks/README.md).
PEERS_ARGS ?=
bench-peers: apt-deps
	swift build -c release --product authd
	cd Benchmarks && for p in bench-echo-server bench-grpc-server peerbench; do \
	    swift build -c release --product $$p || exit 1; done
	cd Benchmarks && .build/release/peerbench --authd ../.build/release/authd $(PEERS_ARGS)

bench-micro: apt-deps
	cd Benchmarks && swift package --disable-sandbox benchmark --target WireMicro

# The release tarball: binaries with the Swift runtime linked in, built in .build-dist
# (docs/operations.md, "Install"). Slow; not part of `make test`.
dist: apt-deps
	tools/dist.sh

dist-check: python-deps
	tools/dist-check.sh

clean:
	rm -rf .build .build-dist dist $(VENV)
