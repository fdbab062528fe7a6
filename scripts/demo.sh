#!/bin/sh
# demo.sh — the body of `make demo`: fetch MNIST if it is missing, train the classic VAE
# (784-400-20, Bernoulli decoder, Adam 1e-3, batch 128) for 10 epochs and write its
# pictures to out/demo/.  Takes a few minutes on 2 cores.
set -eu
cd "$(dirname "$0")/.."
[ -f data/mnist/train-images-idx3-ubyte ] || [ -f data/mnist/train-images-idx3-ubyte.gz ] \
    || sh scripts/fetch_data.sh mnist
build/vae --dataset mnist --epochs "${EPOCHS:-10}" --out out/demo "$@"
echo
echo "Look at out/demo/samples.png (new digits), out/demo/recon.png (test digits and their"
echo "reconstructions), out/demo/traverse.png and out/demo/curves.png, all on one page:"
echo "$(pwd)/out/demo/index.html"
