# genesys-eventbridge: the two commands are `make demo` and `make test`.
.PHONY: help demo test lint unit aws-checks contract template-checks sim build-debug build-tests build deploy logs bench

CARGO ?= cargo
SAM ?= sam
STACK ?= genesys-eventbridge
PIP_INSTALL = --quiet --disable-pip-version-check

## make demo: the consumer on every sample event in events/, against genesys-sim on loopback.
demo: build-debug
	./scripts/demo.sh

## make test: fmt, clippy, every test (DynamoDB Local, moto on loopback), AWS checks, the Genesys SDK contract, template lint.
## (The AWS checks run Step Functions, SQS and the rule pattern in moto.)
test: lint unit aws-checks contract template-checks

# The workspace's members (docs/architecture.md) are all default members: plain cargo commands
# build, lint and test every crate. The tests run the binaries of the other crates, so they are
# built first.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: .venv/ready build-tests
	./scripts/with-local-aws.sh $(CARGO) test --workspace --all-targets

aws-checks: .venv/ready build-tests
	.venv/bin/python -m pytest -q tests/aws

## make contract: genesys-sim's answers, our tools' requests and the sample events held to Genesys's SDK models.
## (docs/simulator.md, "Fidelity: the SDK-model contract suite".)
contract: .venv/ready build-tests
	.venv/bin/python -m pytest -q tests/contract

template-checks: .venv/ready .venv-sam/ready
	.venv/bin/cfn-lint template.yaml deploy/bridge.yaml
	SAM_CLI_TELEMETRY=0 .venv-sam/bin/sam validate --lint --template template.yaml

## Local Python venvs for the test tooling (pinned): PyYAML, moto, cfn-lint, pytest, Genesys's Python SDK; the SAM CLI apart.
.venv/ready:
	python3 -m venv .venv
	.venv/bin/pip install $(PIP_INSTALL) pyyaml==6.0.3 'moto[server]==5.2.5' cfn-lint==1.58.0 pytest==8.4.2 purecloudplatformclientv2==269.0.0
	touch $@

.venv-sam/ready:
	python3 -m venv .venv-sam
	.venv-sam/bin/pip install $(PIP_INSTALL) aws-sam-cli==1.170.0
	touch $@

## make bench: throughput, CPU, RSS, DynamoDB requests per event; Lambda size and cold start;
## publish: entries/s and CPU per entry onto the simulator's EventBridge stand-in.
## Modes: `invoke` one event at a time and in SQS batches, and 16 concurrent instances, with
## in-memory and DynamoDB dedup. BENCH_EVENTS sets the deliveries per mode.
BENCH_EVENTS ?= 20000
bench: .venv/ready
	$(CARGO) build --release -p gev-consumer --bin disposition-consumer
	mkdir -p target/bench && cp target/release/disposition-consumer target/bench/bootstrap
	$(CARGO) build --release --bins
	./scripts/with-local-aws.sh $(CARGO) bench --bench consumer -- --events $(BENCH_EVENTS)

## make sim: genesys-sim on 127.0.0.1:8089 with the demo data (for cargo lambda watch).
sim: build-debug
	./target/debug/genesys-sim --data events/sim/interactions.json --listen 127.0.0.1:8089

build-debug:
	$(CARGO) build --bins

# Every target of every crate in one build, with the features the tests unify: the binaries the
# tests run come out of it, and `cargo test` then builds nothing again (`cargo build --bins` alone
# would build the dependencies a second time, with other features).
build-tests:
	$(CARGO) build --workspace --all-targets

## make build: the Lambda for arm64 (needs cargo-lambda, and zig or --compiler cargo).
build:
	$(CARGO) lambda build --release --arm64 --bin disposition-consumer

## make deploy: build with SAM (BuildMethod rust-cargolambda) and deploy, asking for parameters.
deploy:
	$(SAM) build
	$(SAM) deploy --guided --stack-name $(STACK)

## make logs: follow the function's logs.
logs:
	$(SAM) logs --stack-name $(STACK) --name DispositionConsumerFunction --tail

## make help: this list of targets.
help:
	@sed -n 's/^## make //p' Makefile
