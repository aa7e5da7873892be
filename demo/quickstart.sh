#!/bin/sh
# demo/quickstart.sh: from a fresh Debian 12 checkout to a running demo.
#
# Installs the Debian packages listed in .ci/packages (and sudo, if missing,
# so that the README's "sudo make -C build check" also works for root),
# generates ./configure, builds in ./build, builds the tests, and runs
# demo/demo.sh (the union) and demo/image-demo.sh (an image) as root.
# Works as root and as a user who may use sudo.
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
	as_root() { "$@"; }
else
	as_root() { sudo "$@"; }
fi

packages=$(sed -e 's/#.*//' .ci/packages | xargs)
command -v sudo >/dev/null 2>&1 || packages="$packages sudo"

echo "== installing Debian packages:$packages"
as_root apt-get update
# shellcheck disable=SC2086 # one word per package
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y $packages

echo "== bootstrapping, configuring and building in ./build"
./bootstrap
mkdir -p build
cd build
[ -f Makefile ] || ../configure
jobs=$(nproc 2>/dev/null || echo 2)
make -j"$jobs"
# The test programs too, as this user, so that "sudo make check" only runs them.
make -j"$jobs" check TESTS= >/dev/null
cd ..

echo "== demo"
as_root sh demo/demo.sh build/lamina-fuse
echo
echo "== image demo"
as_root sh demo/image-demo.sh build/lamina
echo
echo "Built in ./build. Run the test suite with: sudo make -C build check"
