# The two front-door commands: `make demo` and `make test`. Both install what is missing.
.PHONY: demo test build deps test-deps unit integration fuzz lint format

SWIFT_BUILD_FLAGS ?=

deps:
	scripts/install-deps

test-deps:
	scripts/install-deps --test

build: deps
	swift build $(SWIFT_BUILD_FLAGS)

## Run the gateway and the bundled NodeService; prints a curl line to try.
demo: build
	swift run $(SWIFT_BUILD_FLAGS) ferry demo

## The format check, unit tests (Swift), integration tests against real peers (grpcio, sonora,
## curl, h2), and each fuzz target for 20 s with a fixed seed.
test: test-deps lint
	swift build $(SWIFT_BUILD_FLAGS)
	swift test $(SWIFT_BUILD_FLAGS)
	.venv/bin/python -m pytest -q Tests/integration
	FUZZ_SEED=1 scripts/fuzz 20

## Fuzz each parser with libFuzzer and AddressSanitizer for FUZZ_SECONDS (default 600) each.
FUZZ_SECONDS ?= 600
fuzz: deps
	scripts/fuzz $(FUZZ_SECONDS)

# Swift sources but generated code (protoc-gen-swift's, scripts/generate-node-descriptors', scripts/generate-jwt-fixtures').
SWIFT_SOURCES = $$(git ls-files '*.swift' | grep -v -e '\.pb\.swift$$' -e 'NodeDescriptorSet\.swift$$' -e 'JWTFixtures\.swift$$')

## The Swift sources are formatted as .swift-format says (the toolchain's swift format).
lint:
	swift format lint --strict $(SWIFT_SOURCES)

## Formats the Swift sources in place.
format:
	swift format -i $(SWIFT_SOURCES)
