# tests/fuzz/fuzz.mk — libFuzzer targets for every parser of outside data; included by the
# top Makefile (it uses LIB_SRC, ARCHFLAGS and LDLIBS from there).
#
#   make fuzz           build, then run each target for FUZZ_SECONDS (default 180), one after
#                       another; prints each target's executions; fails on any crash
#   make fuzz-ci        the same for 20 seconds a target
#   make fuzz-build     build only: build/fuzz/fuzz_{idx,checkpoint,spec,cli,safetensors,settings}
#   make fuzz-corpus    regenerate the seed corpora tests/fuzz/corpus/<target>/ (committed)
#
# The library is compiled again, with clang, coverage instrumentation and ASan + UBSan
# (every UBSan finding fatal), float precision, into build/fuzz/.  New interesting inputs go
# to build/fuzz/work/<target>/ and crash inputs to build/fuzz/crashes/<target>/, never into
# the source tree.  Reproduce a crash with:  build/fuzz/fuzz_<target> <crash file>

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 180
FUZZ_TARGETS := idx checkpoint spec cli safetensors settings
FZ           := build/fuzz
FUZZ_CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O1 -g -fno-omit-frame-pointer \
                $(ARCHFLAGS) -fopenmp -fno-math-errno -Wall -Wextra -Wno-unknown-pragmas -Wno-pass-failed -I. -MMD -MP \
                -fsanitize=address,undefined -fno-sanitize-recover=all
# Longest input per target: IDX files, checkpoints and .safetensors files need room for a
# header and a few tensors; spec text and command lines are short.
FUZZ_MAXLEN_idx        := 4096
FUZZ_MAXLEN_checkpoint := 4096
FUZZ_MAXLEN_safetensors := 4096
FUZZ_MAXLEN_spec       := 512
FUZZ_MAXLEN_cli        := 512
FUZZ_MAXLEN_settings   := 4096
# What libFuzzer closes of the target's output (1 stdout, 3 stdout and stderr): the CLI
# parser's messages would only slow it down; elsewhere stderr shows ag_error's message.
FUZZ_FDMASK_cli        := 3
FUZZ_FDMASK_settings   := 3

FUZZ_BINS := $(FUZZ_TARGETS:%=$(FZ)/fuzz_%)

.PHONY: fuzz fuzz-ci fuzz-build fuzz-corpus
fuzz-build: $(FUZZ_BINS)

FUZZ_RUN := sh tests/fuzz/run.sh
FUZZ_ARGS = $(foreach t,$(FUZZ_TARGETS),$(t):$(FUZZ_MAXLEN_$(t)):$(or $(FUZZ_FDMASK_$(t)),1))

fuzz: fuzz-build
	@$(FUZZ_RUN) $(FUZZ_SECONDS) $(FUZZ_ARGS)

fuzz-ci: fuzz-build
	@$(FUZZ_RUN) 20 $(FUZZ_ARGS)

fuzz-corpus: $(FZ)/make_corpus
	$(FZ)/make_corpus tests/fuzz/corpus

# Library, examples/common and the targets themselves, all instrumented for coverage.
# The dispatched kernel files (*_avx512.c, *_avx2.c) get their target flags, as in the main
# build, less gcc's -mstringop-strategy, which clang does not know.
$(FZ)/obj/%.o: %.c tests/fuzz/fuzz.mk | build/.deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(filter-out -mstringop%,$(call kernel_flags,$*)) -fsanitize=fuzzer-no-link -c $< -o $@

# The targets' objects are intermediate files of a chain of pattern rules: keep them.
.SECONDARY: $(FUZZ_TARGETS:%=$(FZ)/obj/tests/fuzz/fuzz_%.o) $(FZ)/obj/tests/fuzz/make_corpus.o

$(FZ)/libhenbun.a: $(LIB_SRC:%.c=$(FZ)/obj/%.o)
	@rm -f $@; ar rcs $@ $^

$(FZ)/fuzz_cli: $(FZ)/obj/examples/common/cli.o
$(FZ)/fuzz_settings: $(patsubst %,$(FZ)/obj/examples/common/%.o,harness run outdir settings cli report)
$(FZ)/fuzz_%: $(FZ)/obj/tests/fuzz/fuzz_%.o $(FZ)/libhenbun.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS)

# The seed generator is an ordinary program (no libFuzzer main) on the same library.
$(FZ)/make_corpus: $(FZ)/obj/tests/fuzz/make_corpus.o $(FZ)/libhenbun.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ $(LDLIBS)
