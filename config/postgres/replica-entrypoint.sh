#!/bin/sh
# The replica's entrypoint: on an empty data directory, copy the primary with
# pg_basebackup -R (standby.signal + primary_conninfo, streaming from the slot), then
# hand over to the postgres image's own entrypoint, which finds a data directory and
# starts it as a hot standby. Later starts skip the copy and resume streaming.
set -eu

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    until gosu postgres pg_isready --quiet -h "$PRIMARY_HOST" -U "$POSTGRES_REPLICATION_USER"; do
        echo "replica: waiting for the primary at $PRIMARY_HOST"
        sleep 2
    done
    echo "replica: copying the primary (pg_basebackup)"
    gosu postgres env PGPASSWORD="$POSTGRES_REPLICATION_PASSWORD" pg_basebackup \
        --host "$PRIMARY_HOST" --username "$POSTGRES_REPLICATION_USER" \
        --pgdata "$PGDATA" --write-recovery-conf --wal-method stream \
        --slot "$POSTGRES_REPLICATION_SLOT" --checkpoint fast --progress
fi

exec docker-entrypoint.sh "$@"
