#!/usr/bin/env bash
# Start the machine's PostgreSQL 15 cluster (installing it if needed) and make sure the test role and
# databases exist. Idempotent. Prints `export` lines for the test suite.
set -euo pipefail
PGVER=${PGVER:-15}
ROLE=${PMARK_PG_ROLE:-pmark}
# A password unlike any other word of the suite, so the secret scan of the test logs
# (tests/reliability/secret_scan.py) finds it only where it really leaked.
PASS=${PMARK_PG_PASSWORD:-pmark-pg-Zq7tW4nKx9}

if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d "/usr/lib/postgresql/$PGVER" ]; then
  echo "installing postgresql-$PGVER" >&2
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$PGVER" >&2
fi
if [ ! -d "/etc/postgresql/$PGVER/main" ]; then
  pg_createcluster "$PGVER" main >&2
fi
if ! pg_lsclusters -h | awk -v v="$PGVER" '$1==v && $2=="main" {print $4}' | grep -q online; then
  pg_ctlcluster "$PGVER" main start >&2
fi
for _ in $(seq 1 30); do
  if su postgres -c "psql -qtAc 'select 1'" >/dev/null 2>&1; then break; fi
  sleep 1
done
su postgres -c "psql -qtAc 'select 1'" >/dev/null || { echo "PostgreSQL did not start" >&2; exit 1; }

psql_su() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtAc \"$1\""; }
if [ "$(psql_su "select 1 from pg_roles where rolname='$ROLE'")" != "1" ]; then
  psql_su "create role $ROLE login superuser password '$PASS'" >&2
elif ! PGPASSWORD="$PASS" psql -w -h 127.0.0.1 -U "$ROLE" -d postgres -qtAc 'select 1' >/dev/null 2>&1; then
  # An older cluster set up with another password: bring the role in line.
  psql_su "alter role $ROLE password '$PASS'" >&2
fi
for db in pmark_test pmark_checkpoints_test; do
  if [ "$(psql_su "select 1 from pg_database where datname='$db'")" != "1" ]; then
    psql_su "create database $db owner $ROLE" >&2
  fi
done
# max_connections: the load tests open many pooled connections from several processes.
current=$(psql_su "show max_connections")
if [ "$current" -lt 300 ]; then
  psql_su "alter system set max_connections = 300" >&2
  pg_ctlcluster "$PGVER" main restart >&2
  sleep 2
fi
echo "export PMARK_TEST_POSTGRES_URL=postgresql://$ROLE:$PASS@127.0.0.1:5432/pmark_test"
echo "export PMARK_TEST_CHECKPOINT_URL=postgresql://$ROLE:$PASS@127.0.0.1:5432/pmark_checkpoints_test"
