#!/usr/bin/env bash
# The unit tests and the integration tests under valgrind memcheck: any
# error or definitely lost block fails (the integration harness runs the
# daemon through GSLB_TEST_WRAPPER and checks its exit status).
#   tests/qa/valgrind.sh BUILD_DIR     (an already configured and built tree)
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
cd "$build"
make -j"$(nproc)" all
make -j"$(nproc)" check TESTS= >/dev/null # builds the test programs
vg="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite"
export CK_FORK=no srcdir="$src"
for t in tests/unit/test_* tests/fuzz/replay_*; do
	case "$t" in *.o | *.log | *.trs) continue ;; esac
	[ -x "$t" ] || continue
	echo "== $t"
	$vg "$t" >/dev/null
done
export GSLB_OVERWATCHD="$build/overwatchd/gslb-overwatchd"
export GSLBCTL="$build/tools/gslbctl"
export GSLB_AGENTD="$build/agentd/gslb-agentd"
export GSLB_AGENT_SIM="$build/tests/bench/agent-sim"
export GSLB_TEST_WRAPPER="$vg" GSLB_TEST_TIMEOUT=60
failed=()
for t in "$src"/tests/integration/test_*.py; do
	echo "== $t"
	/usr/bin/python3 "$t" || failed+=("$(basename "$t")")
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "valgrind: FAILED: ${failed[*]}"
	exit 1
fi
echo "valgrind: clean"
