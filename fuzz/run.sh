#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600) with cargo fuzz (libFuzzer, AddressSanitizer,
# overflow checks) and prints a Markdown table: executions, corpus, crashes per target. Needs a nightly
# toolchain (rustup's `nightly`) and `cargo install cargo-fuzz`.
# Leak detection is off: readers parse on a thread of their own, which LeakSanitizer reports as leaked when
# an input ends while that thread is still unwinding (not a leak of the program's).
# A stack overflow is a crash here, as it is in production (it aborts the process): libFuzzer handles SIGSEGV
# and SIGABRT (-handle_segv, -handle_abrt, on by default) and AddressSanitizer reports "stack-overflow", so it
# lands in artifacts/ like any crash. libfuzzer-sys's panic hook aborts too, also for panics on a reader's
# own thread, which the stream alone would only see as an early end. Targets that parse nesting get a
# dictionary of nesting tokens (dicts/). The script exits non-zero when any target crashed.
# Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(geojson geojsonseq csv cql2 feeds privacy files wkb)
./seed.sh >/dev/null
cargo +nightly fuzz build -O >/dev/null 2>&1
mkdir -p logs
dict_of() {
  case "$1" in
    cql2) echo dicts/cql2.dict ;;
    csv | files | wkb) echo dicts/geometry.dict ;;
    *) [ -f "dicts/$1.dict" ] && echo "dicts/$1.dict" ;;
  esac
  return 0
}
failed=0
echo "| target | seconds | executions | exec/s | corpus | crashes |"
echo "|---|---|---|---|---|---|"
for t in "${targets[@]}"; do
  log="logs/$t.log"
  dict=$(dict_of "$t")
  set +e
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
    -max_total_time="$seconds" -detect_leaks=0 -rss_limit_mb=2048 -timeout=10 -max_len=65536 -print_final_stats=1 \
    ${dict:+-dict="$dict"} >"$log" 2>&1
  status=$?
  set -e
  [ $status -ne 0 ] && failed=1
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  corpus=$(find "corpus/$t" -type f | wc -l)
  crashes=$(find "artifacts/$t" -type f 2>/dev/null | wc -l)
  echo "| $t | $seconds | ${runs:-?} | ${rate:-?} | $corpus | $crashes$([ $status -ne 0 ] && echo " (exit $status)") |"
done
exit $failed
