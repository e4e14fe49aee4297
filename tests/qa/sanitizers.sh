#!/usr/bin/env bash
# The whole test suite built with AddressSanitizer and UndefinedBehavior-
# Sanitizer, in a scratch build directory: any report fails a test (the
# daemon aborts, or exits non-zero on a leak, and the tests see it).
#   tests/qa/sanitizers.sh [BUILD_DIR]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$(mktemp -d /tmp/opengslb-asan.XXXXXX)}
[ -x "$src/configure" ] || (cd "$src" && autoreconf -fi)
mkdir -p "$build" && cd "$build"
if [ -f "$src/config.status" ]; then
	# Configured in the source tree (./bootstrap does), which configure
	# refuses to build elsewhere: use the release tarball's tree.
	make -C "$src" dist >/dev/null
	tarball=$(ls -t "$src"/opengslb-*.tar.* | head -n 1)
	mkdir -p "$build/src"
	tar -xf "$tarball" -C "$build/src" --strip-components=1
	src=$build/src
fi
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
"$src/configure" --enable-developer CFLAGS="-g -O1 $san -fno-omit-frame-pointer" \
	LDFLAGS="$san" >/dev/null
make -j"$(nproc)" >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if ! make -j"$(nproc)" check; then
	# CI shows only what is printed: the failing tests' logs.
	sed -n '/^FAIL:\|^ERROR:/,$p' test-suite.log | head -n 400
	exit 1
fi
echo "sanitizers: clean (build in $build)"
