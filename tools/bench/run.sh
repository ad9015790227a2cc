#!/bin/sh
# Builds reftx-bench in a release build directory (build-bench, or $REFTX_BENCH_BUILD) and prints
# its Markdown report. Arguments are passed to reftx-bench (see `reftx-bench --help`), e.g.
# --sizes 1,10 --iterations 20, or --sizes none for the mixed-transaction table alone.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build="${REFTX_BENCH_BUILD:-$root/build-bench}"
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" --buildtype=release -Dtests=false >&2
fi
ninja -C "$build" -j1 tools/reftx tools/reftx-bench >&2
df -T "${TMPDIR:-/tmp}" >&2
exec "$build/tools/reftx-bench" --reftx "$build/tools/reftx" "$@"
