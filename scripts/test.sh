#!/usr/bin/env bash
# Runs every geoconsole test: formatting, lints, unit, integration and end-to-end tests, and keeps the
# benchmarks compiling. On a fresh Debian machine it first installs what the tests talk to: GDAL's
# ogrinfo/ogr2ogr (Debian package gdal-bin), the real client that checks our GeoPackage files.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v ogrinfo >/dev/null 2>&1 || missing+=(gdal-bin)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test dependencies: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
cargo bench --workspace --no-run --locked
