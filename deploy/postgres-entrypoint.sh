#!/bin/sh
# First start: create the cluster in $PGDATA with the superuser $POSTGRES_USER (password
# $POSTGRES_PASSWORD, required over the network) and the database $POSTGRES_DB. Then run the
# server in the foreground, listening on the container's network.
set -eu
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    # Other containers reach the server over the compose network, with the password.
    echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$POSTGRES_DB" != postgres ]; then
        echo "CREATE DATABASE \"$POSTGRES_DB\"" | postgres --single -D "$PGDATA" postgres >/dev/null
    fi
fi
# Each replica pools up to 40 connections (SQLAlchemy: 10 + 30 overflow); 3 replicas fit in 200.
exec postgres -D "$PGDATA" -c listen_addresses='*' -c max_connections=200
