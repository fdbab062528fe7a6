#!/bin/sh
# Installs the Debian packages henbun needs to build and test (non-interactive).
# Already-installed packages cost nothing; without root we only report what is missing.
set -eu
need="build-essential clang libomp-dev zlib1g-dev libstb-dev pkg-config python3-numpy libopenmpi-dev openmpi-bin"
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "henbun: missing packages:$missing" >&2
    echo "        run: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing >/dev/null
