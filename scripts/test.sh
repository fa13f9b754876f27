#!/usr/bin/env bash
# Runs every geoconsole test: formatting, lints (which also type-check the benchmarks), unit, integration and
# end-to-end tests, the web console's unit tests (vitest) and its browser tests (playwright-core driving
# Debian's Chromium against a real server on the demo data). On a fresh Debian machine it first installs what
# the tests talk to: GDAL's ogrinfo/ogr2ogr (gdal-bin: GeoPackage, OGC API Features and MVT clients), the
# sqlite3 shell, PostgreSQL 15 with PostGIS 3 (scripts/postgres.sh, on 127.0.0.1 only), Debian's chromium, Node.js and npm when missing, the web console's npm packages, and from
# PyPI the OGC API client OWSLib, MapServer (cgi-mapserver) and pygeoapi (a venv in /opt/pygeoapi) as real
# WFS/OGC API servers for the connectors, Koop from npm as a real ArcGIS FeatureServer, the OpenAPI validator openapi-spec-validator, the OpenAPI fuzzer schemathesis and pyarrow (a second GeoParquet
# implementation, since Debian's GDAL 3.6 has no Parquet driver), and from crates.io cargo-deny.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v ogrinfo >/dev/null 2>&1 || missing+=(gdal-bin)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
# MapServer (run as CGI by the test kit itself): a real WFS 2.0 and OGC API – Features server for the connectors.
[ -x /usr/lib/cgi-bin/mapserv ] || command -v mapserv >/dev/null 2>&1 || missing+=(cgi-mapserver)
python3 -c "import ensurepip" >/dev/null 2>&1 || missing+=(python3-venv)
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
python3 -c "import pyarrow" >/dev/null 2>&1 || python_missing+=("pyarrow==21.0.0")
command -v schemathesis >/dev/null 2>&1 || python_missing+=("schemathesis==4.32.5")
python3 -c "import openapi_spec_validator" >/dev/null 2>&1 || python_missing+=("openapi-spec-validator==0.9.0")
if [ ${#python_missing[@]} -gt 0 ]; then
  echo "installing test dependencies from PyPI: ${python_missing[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${python_missing[@]}"
fi

# pygeoapi, a real OGC API – Features server for the connector tests, in a venv of its own so its pins do not
# clash with the clients above.
if [ ! -x /opt/pygeoapi/bin/pygeoapi ]; then
  echo "installing pygeoapi 0.21.0 into /opt/pygeoapi"
  python3 -m venv /opt/pygeoapi
  /opt/pygeoapi/bin/pip install --quiet --disable-pip-version-check pygeoapi==0.21.0
fi
export GEOCONSOLE_PYGEOAPI=/opt/pygeoapi/bin/pygeoapi
# Koop (koop-core with the GeoServices output), a real ArcGIS FeatureServer on Node.js for the ArcGIS
# connector's test, from the npm registry at the versions its lockfile pins.
if [ ! -d crates/feeds/tests/koop/node_modules/@koopjs/koop-core ]; then
  echo "installing Koop (npm ci in crates/feeds/tests/koop)"
  (cd crates/feeds/tests/koop && npm ci --no-audit --no-fund --loglevel=error)
fi
# The real-server connector tests fail, rather than skip, when a server is missing.
export GEOCONSOLE_REQUIRE_SERVERS=1

# The PostGIS store's tests talk to a real PostgreSQL 15 + PostGIS 3 on 127.0.0.1 (installed from Debian and
# started by scripts/postgres.sh when missing); each test makes a schema of its own in this database.
if [ -z "${GEOCONSOLE_TEST_POSTGRES:-}" ]; then
  GEOCONSOLE_TEST_POSTGRES=$(./scripts/postgres.sh geoconsole_test)
  export GEOCONSOLE_TEST_POSTGRES
fi
echo "PostGIS tests use $GEOCONSOLE_TEST_POSTGRES"

# The binary embeds the web console, so it is built first.
./scripts/build-web.sh

# One-shot builds gain nothing from incremental state, which would double the size of target/.
export CARGO_INCREMENTAL=0

cargo fmt --all -- --check
# Supply chain: licences, banned crates, sources (deny.toml). Installed from crates.io when missing.
command -v cargo-deny >/dev/null 2>&1 || cargo install --locked --quiet cargo-deny@0.20.2
cargo deny --log-level error check licenses bans sources
cargo clippy --workspace --all-targets --locked -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# Every test binary runs even after one fails, so one CI run shows every failure.
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=1

# The web console: unit tests, then the browser against the built binary on the demo scenario
# (screenshots in target/e2e/).
(cd web && NO_COLOR=1 CI=1 npx vitest run) 2>&1 | tee -a "$log" || status=1
# cargo test built the binary for the CLI tests; build it only if a partial run did not.
[ -x target/debug/geoconsole ] || cargo build --locked -p geoconsole
(cd web && GEOCONSOLE_BIN="$PWD/../target/debug/geoconsole" node --test --test-concurrency=1 --test-reporter=tap e2e/) 2>&1 | tee -a "$log" || status=1

# One closing line for the whole run, summed over every test binary and both JavaScript runners.
awk '
  /^test result:/ { passed += $4; failed += $6 }
  /^ *Tests +[0-9]/ { for (i = 2; i <= NF; i++) { if ($i ~ /^passed/) passed += $(i - 1); if ($i ~ /^failed/) failed += $(i - 1) } }
  /^# pass [0-9]+/ { passed += $3 }
  /^# fail [0-9]+/ { failed += $3 }
  END { printf "tests: %d passed, %d failed\n", passed, failed; exit failed > 0 }
' "$log" || status=1
exit $status
