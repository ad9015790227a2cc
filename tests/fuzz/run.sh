#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time (REFTX_FUZZ_SECONDS, default 30) over its seed
# corpus: the checked-in seeds (tests/fuzz/seeds/<name>) plus generated ones (fuzz_seeds). Exit
# status: libFuzzer's (non-zero when it found a crash, a leak or a timeout); the input that
# failed is printed as base64 so that a CI log is enough to replay it.
#   run.sh <fuzz binary> <name> <seeds dir> <fuzz_seeds binary>
set -euo pipefail
target=$1 name=$2 seeds=$3 generate=$4
seconds=${REFTX_FUZZ_SECONDS:-30}
work=$(mktemp -d "${TMPDIR:-/tmp}/reftx-fuzz-$name-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/artifacts"
if [ -d "$seeds/$name" ]; then cp "$seeds/$name"/* "$work/corpus/"; fi
"$generate" "$work/corpus" "$name"
status=0
"$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1 || status=$?
grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$work/log" || true
if [ "$status" != 0 ]; then
  tail -n 60 "$work/log"
  for artifact in "$work/artifacts"/*; do
    [ -f "$artifact" ] || continue
    echo "failing input $(basename "$artifact") (base64):"
    base64 "$artifact"
  done
fi
echo "fuzz-$name: $(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/log" | grep -o '[0-9]*$' || echo '?') executions in ${seconds}s, exit $status"
exit "$status"
