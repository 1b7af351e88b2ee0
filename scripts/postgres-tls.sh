#!/usr/bin/env bash
# Turns on TLS in the local test PostgreSQL with a self-signed certificate, once: the TLS
# tests hand a pg TLSSocket to a child. Idempotent; run by .ci/run as root, on the machine
# the server runs on (it writes the key into the data directory, owned by the server's user).
set -euo pipefail
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}" -U "${PGUSER:-postgres}" -d "${PGDATABASE:-test}" -At)
probe() { PGSSLMODE=require "${PSQL[@]}" -c 'select ssl from pg_stat_ssl where pid = pg_backend_pid()' 2>/dev/null; }
if [ "$(probe)" = "t" ]; then
  echo "postgres TLS: on"
  exit 0
fi
data=$("${PSQL[@]}" -c 'show data_directory')
owner=$(stat -c %U "$data")
openssl req -new -x509 -days 3650 -nodes -subj /CN=localhost -keyout "$data/forksafe-test.key" -out "$data/forksafe-test.crt" >/dev/null 2>&1
chown "$owner:" "$data/forksafe-test.key" "$data/forksafe-test.crt"
chmod 600 "$data/forksafe-test.key"
"${PSQL[@]}" -c "ALTER SYSTEM SET ssl_cert_file = 'forksafe-test.crt'" -c "ALTER SYSTEM SET ssl_key_file = 'forksafe-test.key'" -c "ALTER SYSTEM SET ssl = on" -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 40); do
  [ "$(probe)" = "t" ] && { echo "postgres TLS: turned on"; exit 0; }
  sleep 0.25
done
echo "postgres TLS: could not be turned on (see the server log)" >&2
exit 1
