#!/bin/sh
# Installs the Debian packages henbun needs to build and test (non-interactive).
# Already-installed packages cost nothing; without root we only report what is missing.
# The browser test (tests/programs/browser.sh) opens the run pages in headless Chromium,
# driven by a Python script: those two are installed too, but without root their absence
# does not stop the build (that test then fails, saying how to install them).
set -eu
need="build-essential clang libomp-dev zlib1g-dev libstb-dev pkg-config python3-numpy libopenmpi-dev openmpi-bin"
test_need="chromium python3"
missing="" missing_test=""
for p in $need $test_need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && continue
    case " $test_need " in *" $p "*) missing_test="$missing_test $p" ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing$missing_test" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    if [ -n "$missing_test" ]; then
        echo "henbun: the browser test needs:$missing_test" >&2
        echo "        run: sudo apt-get install -y$missing_test" >&2
    fi
    [ -z "$missing" ] && exit 0
    echo "henbun: missing packages:$missing" >&2
    echo "        run: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "installing:$missing$missing_test"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing $missing_test >/dev/null
