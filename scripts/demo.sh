#!/usr/bin/env bash
# The README's run command: builds the web console and geoconsole, builds the demo scenario into demo.gpkg
# (offline), and serves it on 127.0.0.1:8080; the console's URL is printed. Extra arguments go to `demo`
# (e.g. --bind 127.0.0.1:9000).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-web.sh
exec cargo run --release --locked -- demo --serve "$@"
