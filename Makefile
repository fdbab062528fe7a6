# henbun — build, test, install.  Everything built lands in build/.
#
#   make                  library (float) + examples in build/
#   make test             float and double test suites + install/docs checks: "N passed, N failed"
#   make sanitize         the test suites under ASan + UBSan
#   make demo             fetch data if missing, train the classic VAE, write pictures to out/
#   make bench            speed against OpenBLAS / PyTorch when installed (build/bench.csv)
#   make fuzz             libFuzzer targets (clang, ASan+UBSan), FUZZ_SECONDS each; make fuzz-ci: 20 s each
#   make valgrind         every program's short run under valgrind memcheck (slow; not in make test)
#   make install PREFIX=/usr/local
#
# Options: REAL=double (library precision), NATIVE=1 (-march=native for everything),
#          PORTABLE=1 (plain C kernels only), CC=clang, SAN=1 (sanitizers).
# The default build runs on any CPU of its architecture: the SIMD kernels (files named
# *_avx512.c, *_avx2.c) get their own target flags and are picked at run time
# (autograd/kernels.h; HENBUN_KERNEL=portable|avx2|avx512 forces one).

CC       ?= cc
PREFIX   ?= /usr/local
REAL     ?= float
PORTABLE ?= 0
NATIVE   ?= 0

ARCHFLAGS := $(if $(filter 1,$(PORTABLE)),-DAG_PORTABLE,$(if $(filter 1,$(NATIVE)),-march=native))
# Target flags of the dispatched kernel files, by the file name's suffix (x86 compilers only).
# -mstringop-strategy=libcall: with generic tuning gcc expands the kernels' small memcpy and
# memset (edge tiles) into `rep movs`/`rep stos`, slow for 32-byte rows (12% of a 128x40x400
# GEMM, perf); glibc's memcpy, picked for this CPU at run time, is what -march=native used.
IS_X86    := $(filter x86_64% i386% i486% i586% i686%,$(shell $(CC) -dumpmachine 2>/dev/null))
STRINGOPS := $(if $(findstring clang,$(shell $(CC) --version 2>/dev/null | head -n 1)),,-mstringop-strategy=libcall)
kernel_flags = $(if $(IS_X86),$(if $(filter %_avx512,$(1)),-mavx512f -mavx2 -mfma $(STRINGOPS),$(if $(filter %_avx2,$(1)),-mavx2 -mfma $(STRINGOPS))))
SANFLAGS  := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT       := $(if $(filter 1,$(SAN)),$(SANFLAGS),-O3 -g)
CFLAGS_COMMON := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT) $(ARCHFLAGS) -fopenmp -fno-math-errno \
                 -Wall -Wextra -Wno-unknown-pragmas -I. -MMD -MP
LDLIBS    := -fopenmp -lz -lstb -lm
ifeq ($(SAN),1)
LDLIBS    += -fsanitize=address,undefined
endif

LIB_SRC  := $(wildcard autograd/*.c nn/*.c vae/*.c)
TEST_SRC := tests/test_main.c tests/check.c $(wildcard tests/autograd/*.c tests/nn/*.c tests/vae/*.c)
EX_COMMON:= $(wildcard examples/common/*.c)
EX_SRC   := $(wildcard examples/*.c)
EXAMPLES := $(patsubst examples/%.c,build/%,$(EX_SRC))

# Two trees of objects: build/float and build/double (SAN builds go to build/san-*).
TREE = build/$(if $(filter 1,$(SAN)),san-,)$(1)
FLT  := $(call TREE,float)
DBL  := $(call TREE,double)
LIBTREE := $(if $(filter double,$(REAL)),$(DBL),$(FLT))

# Objects depend on the compiler and flags that built them: one stamp per tree, rewritten
# only when they change, so `make PORTABLE=1` or `make CC=clang` after a normal build
# recompiles instead of quietly linking the old -march=native objects.
FLAGS_LINE := $(CC) $(CFLAGS_COMMON) $(CFLAGS) $(call kernel_flags,x_avx512) $(call kernel_flags,x_avx2)
stamp = $(shell mkdir -p $(1) && { echo '$(FLAGS_LINE)' | cmp -s - $(1)/.flags || \
                echo '$(FLAGS_LINE)' > $(1)/.flags; })$(1)/.flags
FLT_STAMP := $(call stamp,$(FLT))
DBL_STAMP := $(call stamp,$(DBL))

.PHONY: all lib test test-float test-double sanitize demo data bench install clean examples valgrind
all: lib examples

lib: $(LIBTREE)/libhenbun.a

# Debian packages the build needs (a no-op once present; see scripts/install_deps.sh).
build/.deps: scripts/install_deps.sh
	@sh scripts/install_deps.sh
	@mkdir -p build && touch $@

$(FLT)/%.o: %.c Makefile $(FLT_STAMP) | build/.deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) $(call kernel_flags,$*) -c $< -o $@
$(DBL)/%.o: %.c Makefile $(DBL_STAMP) | build/.deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -DAG_DOUBLE $(CFLAGS) $(call kernel_flags,$*) -c $< -o $@

$(FLT)/libhenbun.a: $(LIB_SRC:%.c=$(FLT)/%.o)
	@rm -f $@; ar rcs $@ $^
$(DBL)/libhenbun.a: $(LIB_SRC:%.c=$(DBL)/%.o)
	@rm -f $@; ar rcs $@ $^

$(FLT)/run_tests: $(TEST_SRC:%.c=$(FLT)/%.o) $(FLT)/libhenbun.a
	$(CC) $(CFLAGS_COMMON) -o $@ $^ $(LDLIBS)
$(DBL)/run_tests: $(TEST_SRC:%.c=$(DBL)/%.o) $(DBL)/libhenbun.a
	$(CC) $(CFLAGS_COMMON) -o $@ $^ $(LDLIBS)

examples: $(EXAMPLES)
build/%: examples/%.c $(EX_COMMON:%.c=$(LIBTREE)/%.o) $(LIBTREE)/libhenbun.a $(LIBTREE)/.flags
	$(CC) $(CFLAGS_COMMON) $(if $(filter double,$(REAL)),-DAG_DOUBLE) $(CFLAGS) -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS)

test: $(FLT)/run_tests $(DBL)/run_tests examples
	@sh tests/run.sh $(FLT)/run_tests $(DBL)/run_tests

test-float: $(FLT)/run_tests
	$(FLT)/run_tests $(T)
test-double: $(DBL)/run_tests
	$(DBL)/run_tests $(T)

sanitize:
	$(MAKE) SAN=1 build/san-float/run_tests build/san-double/run_tests
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    sh tests/run.sh build/san-float/run_tests build/san-double/run_tests --no-extras

data:
	sh scripts/fetch_data.sh

demo: all
	sh scripts/demo.sh

valgrind:
	sh scripts/valgrind.sh

bench: all build/bench/peak build/bench/gemm_bench
	@[ -f data/mnist/train-images-idx3-ubyte ] || [ -f data/mnist/train-images-idx3-ubyte.gz ] || sh scripts/fetch_data.sh mnist
	sh bench/run.sh

install: $(LIBTREE)/libhenbun.a
	mkdir -p $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/henbun/autograd \
	         $(DESTDIR)$(PREFIX)/include/henbun/nn $(DESTDIR)$(PREFIX)/include/henbun/vae
	cp $(LIBTREE)/libhenbun.a $(DESTDIR)$(PREFIX)/lib/
	cp autograd/autograd.h $(DESTDIR)$(PREFIX)/include/henbun/autograd/
	for h in nn/*.h vae/*.h; do [ -f $$h ] && cp $$h $(DESTDIR)$(PREFIX)/include/henbun/$$h || true; done
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@CFLAGS@|$(if $(filter double,$(REAL)),-DAG_DOUBLE)|' \
	    scripts/henbun.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/henbun.pc

clean:
	rm -rf build

-include bench/bench.mk
include tests/fuzz/fuzz.mk
-include $(shell find build -name '*.d' 2>/dev/null)
