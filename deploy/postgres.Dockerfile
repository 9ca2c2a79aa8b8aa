# PostgreSQL 15 from Debian's packages, on the Debian base image (postgres:15 needs a registry).
# Build: docker build -f deploy/postgres.Dockerfile -t oncoclass-postgres:bookworm deploy
# Environment as the official image's: POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB.
ARG BASE_IMAGE=oncoclass-base:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 # Our own cluster lives in the data volume (the entrypoint makes it): drop Debian's.
 && pg_dropcluster 15 main \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
USER postgres
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
STOPSIGNAL SIGINT
HEALTHCHECK --interval=2s --timeout=5s --retries=30 CMD pg_isready -h 127.0.0.1 -q
CMD ["postgres-entrypoint"]
