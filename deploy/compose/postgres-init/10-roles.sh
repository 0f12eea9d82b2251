#!/bin/sh
# Runs once, when the data directory is first created: one role per application, least privilege.
# temporal may create its two databases (temporal-sql-tool create); mentorflow owns its own.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v temporal_pw="$TEMPORAL_DB_PASSWORD" -v app_pw="$APP_DB_PASSWORD" <<'SQL'
CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_pw';
CREATE ROLE mentorflow LOGIN PASSWORD :'app_pw';
CREATE DATABASE mentorflow OWNER mentorflow;
SQL
