# T-RevSNN simulator - one Makefile for the library, bin/sim, tests, examples,
# sanitizer runs and benchmarks.
#
#   make            build bin/sim (float)
#   make check      install missing packages, build float and double, run all tests
#   make asan       the test suite under AddressSanitizer + UBSan
#   make demo       install, build and run the main job
#   make bench      benchmarks (not part of check)
#   make deps       install the Debian packages the project needs (idempotent)
#
# PREC=double builds the double-precision variant into build/double.
# Objects go to build/<variant>/, dependency files beside them.

PREC ?= float
SAN ?=
ARCH ?= -march=native
VARIANT := $(PREC)$(if $(SAN),-san)
BUILDROOT ?= build
B := $(BUILDROOT)/$(VARIANT)

# Debian packages the build, the tests and the demo need.
DEBS := build-essential pkg-config libevent-dev libhdf5-dev hdf5-tools libgsl-dev \
        libcunit1-dev libopenblas-dev zlib1g-dev libcairo2-dev libpng-dev \
        dataset-fashion-mnist

PKGS := hdf5 gsl cunit libevent libevent_pthreads zlib cairo libpng
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC ?= gcc
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unknown-pragmas
CPPFLAGS := -D_GNU_SOURCE -I. $(if $(filter double,$(PREC)),-DSIM_DOUBLE) $(PKG_CFLAGS)
CFLAGS := -std=c11 -O3 -g $(ARCH) -fopenmp $(WARN) -MMD -MP
ifneq ($(SAN),)
CFLAGS += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
LDLIBS := $(PKG_LIBS) -fopenmp -ldl -lpthread -lm

MODULES := sim neurons topology io analysis
LIB_SRC := $(filter-out sim/main.c,$(wildcard $(addsuffix /*.c,$(MODULES))))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
LIB := $(B)/libsim.a
# the web pages of sim/assets/ as C arrays (sim/assets.h), made with od and awk
ASSETS := $(wildcard sim/assets/*.html)
LIB_OBJ += $(B)/gen/assets.o

TEST_SRC := $(wildcard tests/*/test_*.c)
TEST_BIN := $(TEST_SRC:%.c=$(B)/%)
TEST_HARNESS := $(B)/tests/harness.o
EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BIN := $(EXAMPLE_SRC:%.c=$(B)/%)

SIM_BIN := $(B)/bin/sim

.PHONY: all deps check tests run-tests asan demo bench clean
.DEFAULT_GOAL := all

# bin/sim is the float build; PREC=double gives bin/sim-double, SAN=1 bin/sim-san
BIN_NAME := bin/sim$(if $(filter double,$(PREC)),-double)$(if $(SAN),-san)
all: $(BIN_NAME)

$(BIN_NAME): $(SIM_BIN)
	@mkdir -p bin
	cp $< $@.tmp && mv -f $@.tmp $@

$(SIM_BIN): $(B)/sim/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(B)/gen/assets.c: $(ASSETS) Makefile
	@mkdir -p $(dir $@)
	@{ echo '/* generated from sim/assets/ by the Makefile; do not edit */'; \
	  echo '#include "sim/assets.h"'; \
	  for f in $(ASSETS); do n=$$(basename $$f | tr '.-' '__'); \
	    echo "const unsigned char asset_$$n[] = {"; \
	    od -An -v -tx1 $$f | awk '{ for (i = 1; i <= NF; i++) printf "0x%s,", $$i; print "" }'; \
	    echo "0x00};"; echo "const size_t asset_$${n}_len = sizeof asset_$$n - 1;"; \
	  done; } > $@.tmp && mv -f $@.tmp $@

$(B)/gen/assets.o: $(B)/gen/assets.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(B)/tests/%: tests/%.c $(TEST_HARNESS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(TEST_HARNESS) $(LIB) $(LDFLAGS) $(LDLIBS)

$(B)/examples/%: examples/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

tests: $(TEST_BIN) $(EXAMPLE_BIN) $(SIM_BIN)

# Run every test program of this variant; fail if any fails. Each prints
# CUnit's run summary; the last line totals them.
run-tests: tests
	@pass=0; fail=0; failed=""; \
	for t in $(TEST_BIN) $(EXAMPLE_BIN); do \
	  echo "== $$t"; \
	  if OMP_WAIT_POLICY=passive SIM_TESTDATA=$(CURDIR)/../shared/testdata SIM_BIN=$(CURDIR)/$(SIM_BIN) $$t; then pass=$$((pass+1)); \
	  else fail=$$((fail+1)); failed="$$failed $$t"; fi; \
	done; \
	echo "== $(VARIANT): $$pass test and example programs passed, $$fail failed$$failed"; \
	echo "$$pass passed, $$fail failed"; \
	[ $$fail -eq 0 ]

check: deps
	$(MAKE) --no-print-directory PREC=double run-tests
	$(MAKE) --no-print-directory PREC=float run-tests

asan: deps
	$(MAKE) --no-print-directory PREC=double SAN=1 run-tests

# The main job on the built-in default: train the fmnist preset for one
# epoch, run 200 test images through the event-driven engine with a trace,
# analyze it and write the plots (examples/demo.sh; outputs in out/demo/).
demo: deps
	$(MAKE) --no-print-directory bin/sim
	SIM=./bin/sim OUT=out/demo sh examples/demo.sh

# the PyTorch reference of the bench (optional elsewhere) comes from Debian too
BENCH_DEBS := python3-torch python3-numpy python3-h5py python3-matplotlib

bench: deps
	@$(MAKE) --no-print-directory DEBS="$(BENCH_DEBS)" deps
	$(MAKE) --no-print-directory bin/sim
	./bench/run.sh

# The page of `sim serve` in headless Chromium (Debian's chromium; not part of
# check): auto-submits its built-in sample at /?selftest=1, checks the
# prediction in the DOM, saves out/browser-test.png. BROWSER_MODEL=CKPT.
.PHONY: browser-test
browser-test: deps
	@$(MAKE) --no-print-directory DEBS="chromium" deps
	$(MAKE) --no-print-directory bin/sim
	./tests/browser/run.sh $(BROWSER_MODEL)

# ---- fuzzing (docs/reliability.md): libFuzzer targets tests/fuzz/fuzz_<name>.c,
# built with clang (ASan + UBSan + libFuzzer) into build/fuzz/ against a clang
# build of only the library sources they need, each run for FUZZ_SECONDS on
# its seed corpus tests/fuzz/corpus/<name>/ (new inputs go to
# build/fuzz/corpus/<name>/, crashes to build/fuzz/crashes/). `make
# fuzz-regress` replays the committed seeds and regression inputs once.
FUZZ_DEBS := clang libomp-dev
FUZZ_SECONDS ?= 60
FUZZ_CC := clang
FB := build/fuzz
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_NAMES:%=$(FB)/fuzz_%)
FUZZ_LIB_SRC := io/dataset.c io/checkpoint.c io/h5.c io/json.c $(wildcard io/image.c) \
        sim/ctx.c sim/status.c sim/rng.c sim/tensor.c sim/blas.c sim/optim.c sim/cli.c \
        sim/cmd_train.c sim/cmd_info.c sim/train.c sim/progress.c \
        $(wildcard topology/*.c neurons/*.c)
# cmd_train.c starts the --monitor server (sim/monitor.c, issue 7)
FUZZ_LIB_SRC += sim/monitor.c sim/http.c $(B)/gen/assets.c
# fuzz_trace: the trace reader; fuzz_cli: `sim run`'s parser (cmd_run.c)
FUZZ_LIB_SRC += analysis/report.c analysis/summary.c io/trace.c sim/cmd_run.c sim/engine.c \
        sim/scheduler.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FB)/%.o)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=c11 -O1 -g -fno-omit-frame-pointer -fopenmp $(FUZZ_SAN) $(WARN) -Wno-pass-failed -MMD -MP
FUZZ_CPPFLAGS := -D_GNU_SOURCE -I. $(PKG_CFLAGS)
# libhdf5's own huge mallocs on corrupt files get NULL (it then fails cleanly)
# instead of aborting; our allocations are bounded by the harness's hook
FUZZ_ENV := FUZZ_TMPDIR=$(CURDIR)/$(FB)/tmp OMP_NUM_THREADS=1 ASAN_OPTIONS=allocator_may_return_null=1 \
        LSAN_OPTIONS=suppressions=$(CURDIR)/tests/fuzz/lsan.supp:print_suppressions=0

.PHONY: fuzz fuzz-build fuzz-regress
fuzz-build: $(FUZZ_BIN)

$(FB)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FB)/libsim-fuzz.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FB)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FB)/libsim-fuzz.a
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FB)/libsim-fuzz.a \
	  $(PKG_LIBS) -ldl -lpthread -lm

# each target FUZZ_SECONDS on one worker; a crash, leak or timeout fails the
# run. The HDF5 targets (FUZZ_HDF5: checkpoint, trace) run in fork mode
# ignoring timeouts and out-of-memory kills: both come from inside libhdf5
# on corrupt files (docs/reliability.md); their inputs are kept in
# build/fuzz/crashes/ and counted.
FUZZ_HDF5 := checkpoint trace
fuzz:
	@$(MAKE) --no-print-directory DEBS="$(FUZZ_DEBS)" deps
	@$(MAKE) --no-print-directory fuzz-build
	@mkdir -p $(FB)/crashes $(FB)/tmp; rm -f $(FB)/tmp/*; fail=""; \
	for n in $(FUZZ_NAMES); do \
	  mkdir -p $(FB)/corpus/$$n; extra=""; \
	  case " $(FUZZ_HDF5) " in *" $$n "*) extra="-fork=1 -ignore_timeouts=1 -ignore_ooms=1";; esac; \
	  echo "== fuzz_$$n for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_ENV) $(FB)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) $$extra \
	      -timeout=20 -print_final_stats=1 -artifact_prefix=$(FB)/crashes/$$n- \
	      $(FB)/corpus/$$n tests/fuzz/corpus/$$n > $(FB)/$$n.log 2>&1; rc=$$?; \
	  if [ $$rc -ne 0 ] && [ -n "$$extra" ] && ! ls $(FB)/crashes/ | grep -q "^$$n-\(crash\|leak\)" \
	     && ! grep -q -E 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error|invariant' $(FB)/$$n.log; \
	  then rc=0; fi; \
	  if [ $$rc -eq 0 ]; then \
	    ex=$$(grep -o 'stat::number_of_executed_units: *[0-9]*' $(FB)/$$n.log | grep -o '[0-9]*$$'); \
	    [ -n "$$ex" ] || ex=$$(grep -o '^#[0-9]*' $(FB)/$$n.log | tail -1 | tr -d '#'); \
	    echo "   $$ex executions, $$(ls $(FB)/corpus/$$n | wc -l) corpus files, no crash$$(ls $(FB)/crashes \
	      | grep -c "^$$n-\(timeout\|oom\)" | sed 's/^0$$//;s/.\+/, & libhdf5 timeouts\/ooms ignored/')"; \
	  else fail="$$fail $$n"; echo "   FAILED, see $(FB)/$$n.log:"; \
	    grep -m3 -E 'ERROR|SUMMARY|invariant' $(FB)/$$n.log; fi; \
	done; \
	if [ -n "$$fail" ]; then echo "fuzz: failures in:$$fail (inputs in $(FB)/crashes/)"; exit 1; fi; \
	echo "fuzz: $(words $(FUZZ_NAMES)) targets, no crash"

# replay the seed corpora and tests/fuzz/regress/<name>/ (inputs that once
# crashed) through the fuzz binaries once each
fuzz-regress: fuzz-build
	@mkdir -p $(FB)/tmp; for n in $(FUZZ_NAMES); do \
	  files=$$(ls -d tests/fuzz/corpus/$$n/* tests/fuzz/regress/$$n/* 2>/dev/null); \
	  [ -z "$$files" ] && continue; \
	  $(FUZZ_ENV) $(FB)/fuzz_$$n $$files > $(FB)/$$n-regress.log 2>&1 \
	    || { echo "fuzz-regress: fuzz_$$n failed, see $(FB)/$$n-regress.log"; exit 1; }; \
	  echo "fuzz_$$n: $$(echo $$files | wc -w) inputs replayed, ok"; \
	done

# ---- crash safety (tests/crash/kill_train.sh): SIGKILL at CRASH_TRIALS random
# moments, SIGTERM/SIGINT, full disk; every checkpoint left behind must load
# and --resume must finish bit-identically (float build, one thread)
CRASH_TRIALS ?= 20
.PHONY: crash-test valgrind
crash-test: deps $(SIM_BIN)
	tests/crash/kill_train.sh $(SIM_BIN) $(CRASH_TRIALS)

# ---- valgrind memcheck over the double build's fast test programs (the
# others train for seconds natively, hours under valgrind; they run under
# ASan in `make asan`). Built without -march=native (valgrind cannot decode
# AVX-512) into $(BUILDROOT)/vg/. "Possibly lost" blocks are the thread
# stacks libgomp and OpenBLAS keep for reuse and are not errors. sim/test_core
# is left out: memcheck-clean, but its GEMM speed check fails at valgrind's pace.
VALGRIND_DEBS := valgrind
VALGRIND_TESTS ?= sim/test_optim sim/test_scheduler sim/test_cli \
        neurons/test_spike io/test_h5 io/test_limits io/test_dataset io/test_image \
        analysis/test_summary topology/test_elementwise topology/test_loss topology/test_batchnorm
VG_B := $(BUILDROOT)/vg/double
VALGRIND := valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --show-leak-kinds=definite,indirect --error-exitcode=1
valgrind: deps
	@$(MAKE) --no-print-directory DEBS="$(VALGRIND_DEBS)" deps
	@$(MAKE) --no-print-directory PREC=double ARCH= BUILDROOT=$(BUILDROOT)/vg \
	  $(VALGRIND_TESTS:%=$(VG_B)/tests/%) $(VG_B)/bin/sim
	@pass=0; fail=""; for t in $(VALGRIND_TESTS); do \
	  [ -x $(VG_B)/tests/$$t ] || { echo "== $$t: not built, skipped"; continue; }; \
	  echo "== valgrind $$t"; \
	  if OMP_WAIT_POLICY=passive SIM_TESTDATA=$(CURDIR)/../shared/testdata \
	     SIM_BIN=$(CURDIR)/$(VG_B)/bin/sim $(VALGRIND) $(VG_B)/tests/$$t > $(VG_B)/$$(basename $$t).vg 2>&1; \
	  then pass=$$((pass+1)); else fail="$$fail $$t"; tail -30 $(VG_B)/$$(basename $$t).vg; fi; \
	done; \
	echo "valgrind: $$pass programs clean$${fail:+, errors in:$$fail}"; [ -z "$$fail" ]

deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	  || { echo "make deps: apt-get install failed for:$$missing" >&2; exit 1; }; \
	fi

clean:
	rm -rf build bin

-include $(wildcard $(FB)/*/*.d)
-include $(LIB_OBJ:.o=.d) $(B)/sim/main.d $(TEST_HARNESS:.o=.d) $(TEST_BIN:=.d) $(EXAMPLE_BIN:=.d)
