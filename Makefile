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

# The main job on the built-in default (issue 5 makes it the full pipeline):
# what the model costs, then a short training run on Fashion-MNIST.
demo: deps
	$(MAKE) --no-print-directory bin/sim
	@mkdir -p out
	./bin/sim info --preset fmnist
	./bin/sim --train --preset fmnist --epochs 1 --train-limit 12800 --warmup 0.3 --lr 3e-3 \
	  --log out/demo.jsonl --out out/demo.h5
	@echo "demo: checkpoint out/demo.h5, per-epoch JSON log out/demo.jsonl"

# the PyTorch reference of the bench (optional elsewhere) comes from Debian too
BENCH_DEBS := python3-torch python3-numpy python3-h5py

bench: deps
	@$(MAKE) --no-print-directory DEBS="$(BENCH_DEBS)" deps
	$(MAKE) --no-print-directory bin/sim
	./bench/run.sh

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

-include $(LIB_OBJ:.o=.d) $(B)/sim/main.d $(TEST_HARNESS:.o=.d) $(TEST_BIN:=.d) $(EXAMPLE_BIN:=.d)
