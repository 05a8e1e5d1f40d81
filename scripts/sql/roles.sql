-- Roles and database of RVS-CNN Archive; run as superuser on the `postgres` database.
-- psql variables: owner, reader, replicator, db, owner_pw, reader_pw, replicator_pw,
-- reader_timeout. Idempotent.
SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'reader')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader') \gexec
SELECT format('CREATE ROLE %I LOGIN REPLICATION', :'replicator')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'replicator') \gexec
-- the hot standbys' pg_basebackup and WAL stream; it reads no table
ALTER ROLE :"replicator" PASSWORD :'replicator_pw' LOGIN REPLICATION NOSUPERUSER;
ALTER ROLE :"owner" PASSWORD :'owner_pw';
ALTER ROLE :"reader" PASSWORD :'reader_pw' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
ALTER ROLE :"reader" SET default_transaction_read_only = on;
ALTER ROLE :"reader" SET statement_timeout = :'reader_timeout';
-- Django's connection setup calls set_config('TimeZone') unless the session is UTC already,
-- and the reader may not execute set_config (database.sql)
ALTER ROLE :"reader" SET timezone = 'UTC';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
-- the owner cancels the query of an aborted TAP job, which runs as the reader
GRANT pg_signal_backend TO :"owner";
-- and sees what the reader's sessions run (pg_stat_activity's query text), to watch them
GRANT pg_read_all_stats TO :"owner";
-- TAP queries are short or scan-bound: JIT compilation cost the cone, label and GROUP BY
-- queries of bench/tap.py 1-50 ms each and saved nothing (docs/benchmarks.md)
ALTER ROLE :"reader" SET jit = off;
