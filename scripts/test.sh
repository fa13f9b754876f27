#!/usr/bin/env bash
# Runs every geoconsole test: formatting, lints (which also type-check the benchmarks), unit, integration and
# end-to-end tests. On a fresh Debian machine it first installs what the tests talk to: GDAL's
# ogrinfo/ogr2ogr (gdal-bin: GeoPackage, OGC API Features and MVT clients), the sqlite3 shell, Debian's
# chromium (a real browser reading the HTML pages), and from
# PyPI the OGC API client OWSLib and the OpenAPI fuzzer schemathesis.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v ogrinfo >/dev/null 2>&1 || missing+=(gdal-bin)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing test dependencies: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python clients, pinned so a new release cannot change what the tests mean.
python_missing=()
python3 -c "import owslib" >/dev/null 2>&1 || python_missing+=("OWSLib==0.35.0")
command -v schemathesis >/dev/null 2>&1 || python_missing+=("schemathesis==4.32.5")
if [ ${#python_missing[@]} -gt 0 ]; then
  echo "installing test dependencies from PyPI: ${python_missing[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${python_missing[@]}"
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed; exit failed > 0 }' "$log"
