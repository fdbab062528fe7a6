# bench.mk — the GEMM and peak-FLOPS benchmarks (included by the Makefile).
#
#   make bench-peak   build/bench/peak: FMA GFLOPS of one core and of all cores
#   make bench-gemm   build/bench/gemm_bench: ag_gemm vs OpenBLAS cblas_sgemm and vs peak
# Both print a table and append CSV rows to build/bench.csv.  OpenBLAS is the peer only
# when its header is installed (Debian: libopenblas-dev); without it the benchmark still
# builds and reports henbun alone.

BENCH_HAVE_OPENBLAS := $(shell test -f /usr/include/x86_64-linux-gnu/cblas.h && echo 1 || \
                         (pkg-config --exists openblas 2>/dev/null && echo 1))
BENCH_BLAS_CFLAGS := $(if $(BENCH_HAVE_OPENBLAS),-DHAVE_OPENBLAS $(shell pkg-config --cflags openblas 2>/dev/null))
BENCH_BLAS_LIBS   := $(if $(BENCH_HAVE_OPENBLAS),$(or $(shell pkg-config --libs openblas 2>/dev/null),-lopenblas))

build/bench/peak: bench/peak.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -o $@ $< $(LDLIBS)

build/bench/gemm_bench: bench/gemm_bench.c bench/peak.c $(FLT)/libhenbun.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) $(BENCH_BLAS_CFLAGS) -o $@ $< $(FLT)/libhenbun.a \
	    $(BENCH_BLAS_LIBS) $(LDLIBS)

.PHONY: bench-peak bench-gemm
bench-peak: build/bench/peak
	build/bench/peak --csv build/bench.csv

bench-gemm: build/bench/gemm_bench
	build/bench/gemm_bench --csv build/bench.csv

# The four DCGAN convolution layers, forward + backward at batch 64 (ms per call).
build/bench/conv_bench: bench/conv_bench.c $(FLT)/libhenbun.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) $(CFLAGS) -o $@ $< $(FLT)/libhenbun.a $(LDLIBS)

# PyTorch's time for the same calls (bench/torch_conv.py) is the peer column when
# python3-torch is installed; THREADS=1 measures one thread count only.
.PHONY: bench-conv
bench-conv: build/bench/conv_bench
	@rm -f build/bench/torch_conv.txt
	@if /usr/bin/python3 -c 'import torch' 2>/dev/null; then \
	    for th in $(or $(THREADS),1 2); do \
	        OMP_NUM_THREADS=$$th OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_conv.py \
	            --threads $$th >>build/bench/torch_conv.txt || exit 1; \
	    done; \
	    build/bench/conv_bench --csv build/bench.csv --peer build/bench/torch_conv.txt \
	        $(if $(THREADS),--threads $(THREADS)); \
	else \
	    echo "(PyTorch not installed: apt-get install python3-torch for the peer column)"; \
	    build/bench/conv_bench --csv build/bench.csv $(if $(THREADS),--threads $(THREADS)); \
	fi

# Data-parallel training over MPI (needs mpicc/mpirun): the classic VAE at 1 and 2 ranks and
# at 2 threads, against PyTorch DDP/gloo; STEPS=600 (an epoch) and REPS=3 by default.
.PHONY: bench-dist
bench-dist: $(MPI_FLT)/dist_driver
	@[ -f data/mnist/train-images-idx3-ubyte ] || [ -f data/mnist/train-images-idx3-ubyte.gz ] || sh scripts/fetch_data.sh mnist
	sh bench/dist_bench.sh

# The VAE epoch at 2 threads against 1 thread, with one busy competitor per core.
.PHONY: bench-load
bench-load: build/vae
	sh bench/load.sh build/bench.csv

# The default (dispatched) build against a -march=native build: GEMM shapes and VAE epoch.
.PHONY: bench-native
bench-native:
	sh bench/native.sh build/bench.csv
