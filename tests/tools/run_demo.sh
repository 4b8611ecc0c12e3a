#!/usr/bin/env bash
# tools/run-demo shows the build's progress while it builds (the first build
# takes minutes), then the demo's output, last. Run on a copy of the script
# with a stand-in tools/build that prints progress as cmake --build does.
set -u
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tools" "$tmp/build/examples"
cp "$src/tools/run-demo" "$tmp/tools/run-demo"
cat >"$tmp/tools/build" <<'STUB'
echo "[ 50%] Building CXX object examples/CMakeFiles/demo.dir/main.cpp.o"
echo "[100%] Built target $2"
STUB
printf '#!/bin/sh\necho "the demo ran"\n' >"$tmp/build/examples/demo"
chmod +x "$tmp/build/examples/demo"
out=$(bash "$tmp/tools/run-demo" 2>&1); rc=$?
echo "$out"
[ "$rc" -eq 0 ] || { echo "FAIL: run-demo exited with $rc"; exit 1; }
grep -qF "[ 50%] Building CXX object" <<<"$out" || { echo "FAIL: no build progress shown"; exit 1; }
[ "$(tail -1 <<<"$out")" = "the demo ran" ] || { echo "FAIL: the demo's output is not last"; exit 1; }
stdout=$(bash "$tmp/tools/run-demo" 2>/dev/null)
[ "$stdout" = "the demo ran" ] || { echo "FAIL: stdout is not only the demo's output: $stdout"; exit 1; }
echo PASS
