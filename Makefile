# The two commands of the README, and a few more.  Everything is built with
# Meson + Ninja; this file only installs what is missing and drives them.
BUILD ?= build
SAN   ?= build-san

.PHONY: all deps build build-san demo check bench format clean

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

# Every test suite; ends with "N passed, N failed".
check: build build-san
	@tests/run $(BUILD) $(SAN)

# Benchmarks (not part of check); results go in BENCHMARKS.md by hand.
bench: build
	bench/import/run.sh $(BUILD)
	bench/audit/run.sh $(BUILD)
	bench/serve/run.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(SAN)
