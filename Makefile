# genesys-eventbridge: the two commands are `make demo` and `make test`.
.PHONY: demo test lint unit sim build-debug

CARGO ?= cargo

## make demo: the consumer on every sample event in events/, against genesys-sim on loopback.
demo: build-debug
	./scripts/demo.sh

## make test: formatting, clippy, and every test (unit, integration, the dedup contract against
## DynamoDB Local on a free loopback port).
test: lint unit

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

unit: .venv/ready
	./scripts/with-dynamodb-local.sh $(CARGO) test --all-targets

## A local Python venv for the test tooling (PyYAML reads template.yaml).
.venv/ready:
	python3 -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check pyyaml==6.0.3
	touch $@

## make sim: genesys-sim on 127.0.0.1:8089 with the demo data (for cargo lambda watch).
sim: build-debug
	./target/debug/genesys-sim --data events/sim/interactions.json --listen 127.0.0.1:8089

build-debug:
	$(CARGO) build --bins
