#!/usr/bin/env bash
# Creates the Airflow and Superset metadata roles and databases.
#
# In Compose this runs once, from /docker-entrypoint-initdb.d/, when the postgres-data volume is
# empty. It is idempotent (creates only what is missing), so it can also be run by hand against
# an existing or managed PostgreSQL:
#   PGHOST=db.example PGUSER=postgres AIRFLOW_DB_PASSWORD=… SUPERSET_DB_PASSWORD=… \
#     bash grassroots/deploy/postgres-init.sh
# tests/test_deploy.py runs it against the local PostgreSQL with the Compose service environment.
set -euo pipefail

: "${AIRFLOW_DB_PASSWORD:?AIRFLOW_DB_PASSWORD is not set}"
: "${SUPERSET_DB_PASSWORD:?SUPERSET_DB_PASSWORD is not set}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
  --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v airflow_db="${AIRFLOW_DB_NAME:-airflow}" \
  -v airflow_user="${AIRFLOW_DB_USER:-airflow}" \
  -v airflow_password="${AIRFLOW_DB_PASSWORD}" \
  -v superset_db="${SUPERSET_DB_NAME:-superset}" \
  -v superset_user="${SUPERSET_DB_USER:-superset}" \
  -v superset_password="${SUPERSET_DB_PASSWORD}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'airflow_user', :'airflow_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'airflow_user') \gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'superset_user', :'superset_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'superset_user') \gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'airflow_db', :'airflow_user', 'UTF8')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'airflow_db') \gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'superset_db', :'superset_user', 'UTF8')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'superset_db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'airflow_db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'superset_db') \gexec
SQL
echo "grassroots: metadata databases ${AIRFLOW_DB_NAME:-airflow} and ${SUPERSET_DB_NAME:-superset} ready"
