#!/usr/bin/env bash
# Starts a local PostgreSQL 15 + PostGIS 3 for geoconsole's PostGIS store, listening on 127.0.0.1 only, and
# makes a role and a database for it. Installs Debian's packages when they are missing. Idempotent: run it
# again and it only checks. Prints the store URL last, e.g.
#   postgres://geoconsole:geoconsole@127.0.0.1:5432/geoconsole
# Usage: scripts/postgres.sh [DATABASE]   (default: geoconsole)
set -euo pipefail
database="${1:-geoconsole}"
role=geoconsole
password="${GEOCONSOLE_PG_PASSWORD:-geoconsole}"
sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /usr/share/postgresql/15/extension ] \
   || ! ls /usr/share/postgresql/15/extension/postgis.control >/dev/null 2>&1; then
  echo "installing PostgreSQL 15 and PostGIS 3 (Debian packages)" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    postgresql-15 postgresql-15-postgis-3 postgresql-client-15 >&2
fi
if ! pg_lsclusters -h | awk '$1 == 15 && $2 == "main"' | grep -q .; then
  "${sudo_cmd[@]}" pg_createcluster 15 main >&2
fi
if ! pg_lsclusters -h | awk '$1 == 15 && $2 == "main" && $4 == "online"' | grep -q .; then
  # Loopback only: the test database must never be reachable from elsewhere.
  "${sudo_cmd[@]}" pg_ctlcluster 15 main start -o "-c listen_addresses=127.0.0.1" >&2
fi
as_postgres() { "${sudo_cmd[@]}" su postgres -c "$1"; }
port=$(pg_lsclusters -h | awk '$1 == 15 && $2 == "main" { print $3 }')
psql_admin() { as_postgres "psql -p $port -v ON_ERROR_STOP=1 -qAt $*"; }
# CREATEDB lets the tests make a database per run; nothing else is granted beyond the database it owns.
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_roles WHERE rolname = '$role'\"")" != "1" ]; then
  psql_admin "-c \"CREATE ROLE $role LOGIN CREATEDB PASSWORD '$password'\""
fi
if [ "$(psql_admin "-c \"SELECT 1 FROM pg_database WHERE datname = '$database'\"")" != "1" ]; then
  psql_admin "-c \"CREATE DATABASE $database OWNER $role\""
fi
# PostGIS is created by a superuser once; the store's migrations then find it.
psql_admin "-d $database -c \"CREATE EXTENSION IF NOT EXISTS postgis\""
echo "postgres://$role:$password@127.0.0.1:$port/$database"
