# Passerelle - thin wrapper over CMake. `make demo` and `make test` do all
# the set-up on a fresh Debian 12 machine (as root they install what is
# missing).
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# tests run at twice the cores: they mostly wait on sockets, timers and
# fsync (measured: the 12 longest, 397 s of test time, use 36 s of CPU in
# the normal build and 83 s of 621 s under ASan); the CPU-heavy ones take
# two slots (PROCESSORS in tests/costs.cmake). CTEST_JOBS=2 for the old way.
CTEST_JOBS ?= $(shell echo $$(( $(JOBS) * 2 )))
CLANG      := $(shell command -v clang 2>/dev/null)
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all deps build asan test test-normal test-asan demo fuzz fuzz-build fuzz-all faults bench bench-readme bench-broker soak clean install deb test-packages

all: build

deps:
	@sh scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DPL_TEST_BUILD=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug \
	      -DPL_SANITIZE=address,undefined -DPL_TEST_BUILD=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test-normal: build
	cd $(BUILD) && ctest --output-on-failure -j $(CTEST_JOBS)

test-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(CTEST_JOBS)

# every test, in a normal and a sanitizer build, then a short fuzz run
test: test-normal test-asan
	@if [ -n "$(CLANG)" ]; then $(MAKE) --no-print-directory fuzz FUZZ_SECONDS=30; \
	 else echo "fuzz: clang not found, skipped (corpus replay ran above)"; fi

fuzz-build: deps
	@test -n "$(CLANG)" || { echo "fuzz: clang is needed" >&2; exit 1; }
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug \
	  -DPL_FUZZ=ON -DPL_SANITIZE=address,undefined -DPL_TEST_BUILD=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)

fuzz: fuzz-build
	mkdir -p $(FUZZ_BUILD)/corpus
	$(FUZZ_BUILD)/fuzz_packet -max_total_time=$(FUZZ_SECONDS) -max_len=70000 \
	  -print_final_stats=1 $(FUZZ_BUILD)/corpus tests/fuzz/corpus/packet

# every fuzz target for FUZZ_SECONDS each, from its committed corpus; a
# crash (its input is written to crash-*) fails the run after the others ran
fuzz-all: fuzz-build
	@bad=""; for t in $(FUZZ_TARGETS); do n=$${t#fuzz_}; \
	  mkdir -p $(FUZZ_BUILD)/corpus-$$n; echo "== $$t ($(FUZZ_SECONDS) s)"; \
	  $(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=70000 \
	    -print_final_stats=1 $(FUZZ_BUILD)/corpus-$$n tests/fuzz/corpus/$$n \
	    || bad="$$bad $$t"; done; \
	 if [ -n "$$bad" ]; then echo "fuzz-all: failed:$$bad" >&2; exit 1; fi

# the long form of the fault suite (tests/faults), then its table
faults: build
	@cd $(BUILD) && PL_FAULTS_LONG=1 ctest -L faults -V >faults-long.log 2>&1; \
	 rc=$$?; cd $(CURDIR) && bash tests/faults/faults_table.sh $(BUILD)/faults-long.log; \
	 exit $$rc

bench: build
	@python3 scripts/bench-readme.py --header
	@for b in $(BUILD)/bench_*; do echo "== $$b"; $$b || exit 1; done
	@for s in tests/bench/bench_*.sh; do echo "== $$s"; PL_BIN_DIR=$(CURDIR)/$(BUILD) bash $$s || exit 1; done

# issue 20: make bench into $(BUILD)/bench.log, then the README's block of
# figures (between its bench-readme markers) rewritten from that log
bench-readme: build
	@bash -c 'set -o pipefail; $(MAKE) --no-print-directory bench 2>&1 | tee $(BUILD)/bench.log'
	@python3 scripts/bench-readme.py $(BUILD)/bench.log README.md

# issue 20 item 4: Passerelle, the bare CURVE ROUTER and RabbitMQ (quorum
# and classic durable queues) in one run, with ratios (make bench runs it too)
bench-broker: build
	@PL_BIN_DIR=$(CURDIR)/$(BUILD) bash tests/bench/bench_rabbitmq.sh

demo: build
	@bash scripts/demo.sh $(if $(ONCE),--once)

# issue 19: install (FHS, PREFIX=/usr/local by default; DESTDIR works) and
# the Debian packages (a product build: no test hooks) in $(DEB_BUILD)/
PREFIX    ?= /usr/local
DEB_BUILD ?= build-deb
install: deps
	cmake -S . -B $(BUILD)-install -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DPL_TEST_BUILD=OFF -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build $(BUILD)-install -j $(JOBS)
	cmake --install $(BUILD)-install

deb: deps
	cmake -S . -B $(DEB_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DPL_TEST_BUILD=OFF -DCMAKE_INSTALL_PREFIX=/usr \
	      -DPL_SYSTEMD_UNITDIR=/lib/systemd/system >/dev/null
	cmake --build $(DEB_BUILD) -j $(JOBS)
	cd $(DEB_BUILD) && cpack -G DEB >/dev/null && ls -l *.deb

# the package test: make deb, install, run a network from /etc/passerelle,
# purge (tests/packaging/packages.sh; needs root)
test-packages: deb
	bash tests/packaging/packages.sh $(DEB_BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(DEB_BUILD) $(BUILD)-install

# issue 19: cross build for arm64 (cmake/aarch64-linux-gnu.cmake) in
# $(ARM64_BUILD), the unit tests under qemu-aarch64 (scripts/arm64.sh; as
# root it installs the cross toolchain and arm64 libraries when missing)
ARM64_BUILD ?= build-arm64
.PHONY: test-arm64
test-arm64:
	bash scripts/arm64.sh --build $(ARM64_BUILD) --jobs $(JOBS)
