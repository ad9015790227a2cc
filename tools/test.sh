#!/usr/bin/env bash
# Sets up and runs the whole test suite: installs dependencies, builds in build-test/, runs
# every doctest suite through `meson test`. Extra arguments go to `meson test` (e.g. a suite
# name). REFTX_BUILD_DIR names the build dir, REFTX_MESON_ARGS adds meson options (applied to
# an existing build dir too). Exit status: meson test's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
builddir=${REFTX_BUILD_DIR:-build-test}
if [ ! -d "$builddir" ]; then
  meson setup "$builddir" --buildtype=debugoptimized -Dtests=true ${REFTX_MESON_ARGS:-}
elif [ -n "${REFTX_MESON_ARGS:-}" ]; then
  # A build dir kept from an earlier run still gets the options asked for now (e.g. CI's werror).
  meson configure "$builddir" ${REFTX_MESON_ARGS}
fi
ninja -C "$builddir"
status=0
meson test -C "$builddir" --print-errorlogs --num-processes 1 "$@" || status=$?
# One plain summary line from meson's log: "N passed, N failed".
python3 - "$builddir/meson-logs/testlog.json" <<'PY' || true
import json, sys
ok = fail = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("result") in ("OK", "EXPECTEDFAIL"): ok += 1
    elif r.get("result") not in ("SKIP",): fail += 1
print(f"meson: {ok} passed, {fail} failed")
PY
exit $status
