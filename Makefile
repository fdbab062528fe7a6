# henbun — build, test, install.  Everything built lands in build/.
#
#   make                  library (float) + examples in build/
#   make test             float and double test suites + install/docs checks: "N passed, N failed"
#   make sanitize         the test suites under ASan + UBSan
#   make demo             fetch data if missing, train the classic VAE, write pictures to out/
#   make bench            speed against OpenBLAS / PyTorch when installed (build/bench.csv)
#   make fuzz             libFuzzer targets (clang, ASan+UBSan), FUZZ_SECONDS each; make fuzz-ci: 20 s each
#   make valgrind         every program's short run under valgrind memcheck (slow; not in make test)
#   make install PREFIX=/usr/local   portable libhenbun.{a,so}, <henbun/...> headers, henbun.pc
#   make uninstall PREFIX=...       (REAL=double: libhenbun-double, henbun-double.pc; DESTDIR honoured)
#
# Options: REAL=double (library precision), NATIVE=1 (-march=native for everything),
#          PORTABLE=1 (plain C kernels only), CC=clang, SAN=1 (sanitizers).
# The default build runs on any CPU of its architecture: the SIMD kernels (files named
# *_avx512.c, *_avx2.c) get their own target flags and are picked at run time
# (autograd/kernels.h; HENBUN_KERNEL=portable|avx2|avx512 forces one).
#          For install: PREFIX, DESTDIR, LIBDIR, INCLUDEDIR, INSTALL_ARCHFLAGS (the installed
#          library's instruction set).

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

.PHONY: all lib test test-float test-double sanitize demo data bench install install-libs uninstall clean \
        examples valgrind
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

test: $(FLT)/run_tests $(DBL)/run_tests examples $(INSTALL_LIBS)
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

bench: all build/bench/peak build/bench/gemm_bench build/bench/conv_bench
	@[ -f data/mnist/train-images-idx3-ubyte ] || [ -f data/mnist/train-images-idx3-ubyte.gz ] || sh scripts/fetch_data.sh mnist
	sh bench/run.sh

# ---- install: a portable static + shared library, headers under <henbun/...>, pkg-config.
# The installed library is compiled apart (build/pic-float, build/pic-double): position-
# independent, symbols hidden unless a public header declares them (HENBUN_BEGIN_DECLS), and
# with INSTALL_ARCHFLAGS instead of ARCHFLAGS, so it runs on any CPU of the architecture.
# By default that is the dispatched build (no -march: the *_avx512/*_avx2 kernels get their
# own target flags and are picked at run time, as in the in-tree build); -DAG_PORTABLE gives
# a library with the plain C kernels only.
INSTALL_ARCHFLAGS ?=
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
VERSION    := $(shell sed -n 's/^\#define HENBUN_VERSION_STRING "\(.*\)"/\1/p' autograd/version.h)
MAJOR      := $(firstword $(subst ., ,$(VERSION)))
# The precisions install side by side: libhenbun + henbun.pc, libhenbun-double + henbun-double.pc.
PIC_CFLAGS := $(filter-out $(ARCHFLAGS),$(CFLAGS_COMMON)) $(INSTALL_ARCHFLAGS) -fPIC -fvisibility=hidden
PIC_FLT    := build/pic-float
PIC_DBL    := build/pic-double
pic_stamp   = $(shell mkdir -p $(1) && { echo '$(CC) $(2) $(CFLAGS)' | cmp -s - $(1)/.flags || \
                echo '$(CC) $(2) $(CFLAGS)' > $(1)/.flags; })$(1)/.flags
PIC_FLT_STAMP := $(call pic_stamp,$(PIC_FLT),$(PIC_CFLAGS))
PIC_DBL_STAMP := $(call pic_stamp,$(PIC_DBL),$(PIC_CFLAGS) -DAG_DOUBLE)
INSTALL_LIBS  := $(PIC_FLT)/libhenbun.a $(PIC_FLT)/libhenbun.so.$(VERSION) \
                 $(PIC_DBL)/libhenbun-double.a $(PIC_DBL)/libhenbun-double.so.$(VERSION)
# What `make install` (REAL=...) copies.
LIBNAME    := henbun$(if $(filter double,$(REAL)),-double)
PIC        := $(if $(filter double,$(REAL)),$(PIC_DBL),$(PIC_FLT))
SONAME     := lib$(LIBNAME).so.$(MAJOR)
# The public headers: everything under nn/ and vae/, autograd's two, the umbrella.
# Internal headers stay out: nn/json.h (the safetensors reader's JSON parser) and
# vae/gaussian.h (the Gaussian pieces the VAE, GAN and Boltzmann files share).
INTERNAL_HEADERS := nn/json.h vae/gaussian.h
PUBLIC_HEADERS := henbun.h autograd/autograd.h autograd/version.h $(filter-out $(INTERNAL_HEADERS),$(wildcard nn/*.h vae/*.h))

$(PIC_FLT)/%.o: %.c Makefile $(PIC_FLT_STAMP) | build/.deps
	@mkdir -p $(dir $@)
	$(CC) $(PIC_CFLAGS) $(CFLAGS) $(call kernel_flags,$*) -c $< -o $@
$(PIC_DBL)/%.o: %.c Makefile $(PIC_DBL_STAMP) | build/.deps
	@mkdir -p $(dir $@)
	$(CC) $(PIC_CFLAGS) -DAG_DOUBLE $(CFLAGS) $(call kernel_flags,$*) -c $< -o $@
$(PIC_FLT)/libhenbun.a: $(LIB_SRC:%.c=$(PIC_FLT)/%.o)
	@rm -f $@; ar rcs $@ $^
$(PIC_DBL)/libhenbun-double.a: $(LIB_SRC:%.c=$(PIC_DBL)/%.o)
	@rm -f $@; ar rcs $@ $^
# The soname keeps the major version (libhenbun.so.0); -z defs: every symbol the library
# uses is resolved by the libraries it names (DT_NEEDED), so dlopen needs nothing else.
SHARED_LINK = $(CC) -shared -fopenmp -Wl,-soname,$(patsubst %.so.$(VERSION),%.so.$(MAJOR),$(notdir $@)) \
              -Wl,-z,defs $(LDFLAGS) -o $@ $^ -lz -lstb -lm
$(PIC_FLT)/libhenbun.so.$(VERSION): $(LIB_SRC:%.c=$(PIC_FLT)/%.o)
	$(SHARED_LINK)
$(PIC_DBL)/libhenbun-double.so.$(VERSION): $(LIB_SRC:%.c=$(PIC_DBL)/%.o)
	$(SHARED_LINK)

install-libs: $(PIC)/lib$(LIBNAME).a $(PIC)/lib$(LIBNAME).so.$(VERSION)

# Headers are copied with their includes rewritten from "nn/layer.h" (the source tree's -I.)
# to <henbun/nn/layer.h>, so users put only PREFIX/include on their include path.
install: install-libs
	mkdir -p $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/henbun/autograd \
	         $(DESTDIR)$(INCLUDEDIR)/henbun/nn $(DESTDIR)$(INCLUDEDIR)/henbun/vae
	cp $(PIC)/lib$(LIBNAME).a $(PIC)/lib$(LIBNAME).so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf lib$(LIBNAME).so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/lib$(LIBNAME).so
	for h in $(PUBLIC_HEADERS); do \
	    sed -E 's@^#include "((autograd|nn|vae)/[^"]+)"@#include <henbun/\1>@' $$h \
	        > $(DESTDIR)$(INCLUDEDIR)/henbun/$$h.tmp && \
	    mv $(DESTDIR)$(INCLUDEDIR)/henbun/$$h.tmp $(DESTDIR)$(INCLUDEDIR)/henbun/$$h || exit 1; \
	done
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@NAME@|$(LIBNAME)|g' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@CFLAGS@|$(if $(filter double,$(REAL)),-DAG_DOUBLE)|' -e 's|@REAL@|$(REAL)|' \
	    scripts/henbun.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/$(LIBNAME).pc

# Removes this precision's library and .pc; the headers go with the last precision.
uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/lib$(LIBNAME).a $(DESTDIR)$(LIBDIR)/lib$(LIBNAME).so \
	      $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/lib$(LIBNAME).so.$(VERSION) \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/$(LIBNAME).pc
	if [ ! -f $(DESTDIR)$(LIBDIR)/pkgconfig/henbun.pc ] && \
	   [ ! -f $(DESTDIR)$(LIBDIR)/pkgconfig/henbun-double.pc ]; then \
	    for h in $(PUBLIC_HEADERS); do rm -f $(DESTDIR)$(INCLUDEDIR)/henbun/$$h; done; \
	    rmdir $(DESTDIR)$(INCLUDEDIR)/henbun/autograd $(DESTDIR)$(INCLUDEDIR)/henbun/nn \
	          $(DESTDIR)$(INCLUDEDIR)/henbun/vae $(DESTDIR)$(INCLUDEDIR)/henbun 2>/dev/null || true; \
	fi

clean:
	rm -rf build

# ---- MPI: data-parallel training (nn/dist.c; see README "Scaling out") ------------------------
#   make MPI=1   also builds build/mpi-float/libhenbun.a (nn/dist.c compiled by mpicc with
#                HENBUN_MPI, the other objects shared with build/float), the dist test
#                driver, and build/mpi/<program> for every example (run them with mpirun).
# The default build never needs MPI: its nn/dist.c is the one-rank version.  `make test`
# builds and runs the dist tests whenever mpicc is installed.
MPICC     ?= mpicc
HAVE_MPI  := $(shell command -v $(MPICC) 2>/dev/null)
MPI_FLT   := $(call TREE,mpi-float)
MPI_DBL   := $(call TREE,mpi-double)
MPI_CC     = OMPI_CC=$(CC) $(MPICC)
MPI_TREE  := $(if $(filter double,$(REAL)),$(MPI_DBL),$(MPI_FLT))
DIST_TESTS := $(if $(HAVE_MPI),$(MPI_FLT)/dist_driver $(MPI_DBL)/dist_driver \
                               build/mpi/vae build/mpi/gan build/mpi/classify \
                               $(MPI_DBL)/bin/vae $(MPI_DBL)/bin/gan)

$(MPI_FLT)/nn/dist.o: nn/dist.c Makefile $(FLT_STAMP) | build/.deps
	@mkdir -p $(dir $@)
	$(MPI_CC) $(CFLAGS_COMMON) -DHENBUN_MPI $(CFLAGS) -c $< -o $@
$(MPI_DBL)/nn/dist.o: nn/dist.c Makefile $(DBL_STAMP) | build/.deps
	@mkdir -p $(dir $@)
	$(MPI_CC) $(CFLAGS_COMMON) -DAG_DOUBLE -DHENBUN_MPI $(CFLAGS) -c $< -o $@
$(MPI_FLT)/libhenbun.a: $(filter-out %/nn/dist.o,$(LIB_SRC:%.c=$(FLT)/%.o)) $(MPI_FLT)/nn/dist.o
	@rm -f $@; ar rcs $@ $^
$(MPI_DBL)/libhenbun.a: $(filter-out %/nn/dist.o,$(LIB_SRC:%.c=$(DBL)/%.o)) $(MPI_DBL)/nn/dist.o
	@rm -f $@; ar rcs $@ $^

$(MPI_FLT)/dist_driver: tests/dist/dist_driver.c $(MPI_FLT)/libhenbun.a
	$(MPI_CC) $(CFLAGS_COMMON) $(CFLAGS) -o $@ $^ $(LDLIBS)
$(MPI_DBL)/dist_driver: tests/dist/dist_driver.c $(MPI_DBL)/libhenbun.a
	$(MPI_CC) $(CFLAGS_COMMON) -DAG_DOUBLE $(CFLAGS) -o $@ $^ $(LDLIBS)

build/mpi/%: examples/%.c $(EX_COMMON:%.c=$(LIBTREE)/%.o) $(MPI_TREE)/libhenbun.a
	@mkdir -p $(dir $@)
	$(MPI_CC) $(CFLAGS_COMMON) $(if $(filter double,$(REAL)),-DAG_DOUBLE) -DHENBUN_MPI $(CFLAGS) \
	    -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS)

# Programs in double under MPI, for the 1e-12 checks of tests/programs/dist_programs.sh.
$(MPI_DBL)/bin/%: examples/%.c $(EX_COMMON:%.c=$(DBL)/%.o) $(MPI_DBL)/libhenbun.a
	@mkdir -p $(dir $@)
	$(MPI_CC) $(CFLAGS_COMMON) -DAG_DOUBLE -DHENBUN_MPI $(CFLAGS) \
	    -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS)

.PHONY: mpi
mpi: $(MPI_TREE)/libhenbun.a $(MPI_FLT)/dist_driver $(MPI_DBL)/dist_driver \
     $(patsubst examples/%.c,build/mpi/%,$(EX_SRC))
ifeq ($(MPI),1)
all: mpi
endif
test: $(DIST_TESTS)

-include bench/bench.mk
include tests/fuzz/fuzz.mk
-include $(shell find build -name '*.d' 2>/dev/null)
