#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Checks every built man page: man-db and groff must format it at 80
# columns without a single warning, and no @placeholder@ of the sources may
# be left. Run by `make check` from the top of the build tree, or by hand
# with the build tree's man/ directory as the argument.
set -u

dir=${1:-man}
pages="gslb-overwatchd.8 gslb-agentd.8 gslbctl.8 opengslb.yaml.5"

if ! command -v man >/dev/null 2>&1; then
	echo "man (man-db) not found: cannot check the man pages"
	echo "0 passed, 0 failed"
	exit 77
fi

passed=0
failed=0
for page in $pages; do
	file=$dir/$page
	if [ ! -f "$file" ]; then
		echo "FAIL: $page: $file not built"
		failed=$((failed + 1))
		continue
	fi
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$file" \
		2>&1 >/dev/null)
	status=$?
	left=$(grep -n '@[A-Za-z_][A-Za-z_]*@' "$file")
	if [ $status -ne 0 ] || [ -n "$out" ] || [ -n "$left" ]; then
		echo "FAIL: $page"
		[ $status -eq 0 ] || echo "  man exited with status $status"
		[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/  /'
		[ -z "$left" ] ||
			printf '%s\n' "$left" | sed 's/^/  unsubstituted: /'
		failed=$((failed + 1))
	else
		echo "PASS: $page"
		passed=$((passed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
