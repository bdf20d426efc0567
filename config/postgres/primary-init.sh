#!/bin/sh
# The primary's first start only (the postgres image runs /docker-entrypoint-initdb.d
# once, on an empty data directory): a role that may stream WAL, a physical
# replication slot for the replica, and a pg_hba rule admitting the role. On a volume
# initialised before this script existed, run the same three steps once by hand.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v role="$POSTGRES_REPLICATION_USER" \
    -v password="$POSTGRES_REPLICATION_PASSWORD" \
    -v slot="$POSTGRES_REPLICATION_SLOT" <<'SQL'
CREATE ROLE :"role" WITH REPLICATION LOGIN PASSWORD :'password';
-- The slot keeps the WAL a stopped replica still needs (bounded on the server by
-- max_slot_wal_keep_size), so it catches up instead of needing a new base backup.
SELECT pg_create_physical_replication_slot(:'slot');
SQL

# "all" in pg_hba never matches replication connections: they need their own line.
echo "host replication $POSTGRES_REPLICATION_USER all scram-sha-256" >> "$PGDATA/pg_hba.conf"
