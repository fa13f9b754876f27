#!/usr/bin/env bash
# Builds the binary to ship: the web console embedded, optimised, with its debug info (line tables, for
# readable backtraces and profiles) split off into geoconsole.debug beside it. The shipped binary carries
# none; gdb and perf find the .debug file through the binary's debug link. Output in target/dist/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-web.sh
cargo build --release --locked -p geoconsole
mkdir -p target/dist
cp target/release/geoconsole target/dist/geoconsole
cd target/dist
objcopy --only-keep-debug geoconsole geoconsole.debug
objcopy --strip-debug --add-gnu-debuglink=geoconsole.debug geoconsole
ls -l geoconsole geoconsole.debug | awk '{ printf "%-18s %6.1f MB\n", $9, $5 / 1e6 }'
