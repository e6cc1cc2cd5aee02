# The two commands of the README, and a few more.  Everything is built with
# Meson + Ninja; this file only installs what is missing and drives them.
BUILD ?= build
SAN   ?= build-san

.PHONY: all deps build build-san demo check bench format clean fuzz fuzz-build

all: build

deps:
	@scripts/deps.sh

build: deps
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD) --buildtype=release >/dev/null
	@ninja -C $(BUILD)

# Unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
build-san: deps
	@test -f $(SAN)/build.ninja || meson setup $(SAN) --buildtype=debug \
		-Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	@ninja -C $(SAN)

# A demo vault with synthetic customers in ./custodian-data.
demo: build
	./$(BUILD)/custodian demo

# Every test suite; ends with "N passed, N failed".  The fuzz targets run
# FUZZ_CHECK_SECONDS each (the fuzz block of tests/run).
check: build build-san fuzz-build
	@FUZZ_BUILD=$(FUZZ) FUZZ_SECONDS=$(FUZZ_CHECK_SECONDS) tests/run $(BUILD) $(SAN)

# --- fuzzing (fuzz/, docs/fuzzing.md) ----------------------------------------
# The libFuzzer targets, in their own clang build with coverage
# instrumentation and ASan + UBSan on every object.  `make fuzz` runs each
# target for FUZZ_SECONDS, FUZZ_JOBS at a time; FUZZ_TARGETS="policy proof"
# picks some.  Findings go to $(FUZZ)/fuzz-artifacts/.
FUZZ               ?= build-fuzz
FUZZ_SECONDS       ?= 60
FUZZ_CHECK_SECONDS ?= 4
FUZZ_JOBS          ?= 2
FUZZ_TARGETS       ?=

fuzz-build: deps
	@test -f $(FUZZ)/build.ninja || CC=clang meson setup $(FUZZ) -Dfuzz=true \
		--buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false \
		-Dwerror=false "-Dc_args=-fsanitize=fuzzer-no-link -fno-sanitize-recover=all" >/dev/null
	@ninja -C $(FUZZ) fuzz-targets

fuzz: fuzz-build
	@FUZZ_JOBS=$(FUZZ_JOBS) fuzz/run.sh $(FUZZ) $(FUZZ_SECONDS) $(FUZZ_TARGETS)
# --- end of fuzzing ---

# Benchmarks (not part of check); results go in BENCHMARKS.md by hand.
bench: build
	bench/import/run.sh $(BUILD)
	bench/audit/run.sh $(BUILD)
	bench/serve/run.sh $(BUILD)
	bench/serve/postgres.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(SAN)
