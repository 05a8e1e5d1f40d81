-- Extensions and schema privileges; run as superuser on template1 and on the database,
-- so that databases created later (the test database) start the same way.
-- psql variables: owner, reader. Idempotent.
CREATE EXTENSION IF NOT EXISTS pg_sphere;
CREATE EXTENSION IF NOT EXISTS q3c;
-- Django's own tables (auth, sessions, ops) stay in public: the reader may use the extension
-- types and functions there but is granted no table in it. Published tables live in their own
-- schemas, which migrations create and grant.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT USAGE, CREATE ON SCHEMA public TO :"owner";
-- The reader runs users' SQL (TAP): nothing that reaches other sessions — advisory locks (the
-- spectrum store's writers hold them), signals to backends (every TAP user shares the role),
-- notifications, server-side large-object files, other sessions' activity. The owner keeps
-- them: it locks the store and cancels an aborted job's query.
SELECT format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', p.oid::regprocedure),
       format('GRANT EXECUTE ON FUNCTION %s TO %I', p.oid::regprocedure, :'owner')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'pg_catalog'
   AND (p.proname ~ '^pg_(try_)?advisory'
        OR p.proname IN ('pg_cancel_backend', 'pg_terminate_backend', 'pg_notify',
                         'pg_stat_get_activity', 'lo_import', 'lo_export',
                         'pg_logical_emit_message')) \gexec
-- Nor what changes state from inside a SELECT, whatever the spelling (U&"set\005fconfig"
-- is set_config to the parser): settings (set_config: the statement timeout), sequences,
-- transaction ids. The service sets its sessions' timeout with SET, a command, not a function.
SELECT format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', p.oid::regprocedure),
       format('GRANT EXECUTE ON FUNCTION %s TO %I', p.oid::regprocedure, :'owner')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'pg_catalog'
   AND p.proname IN ('set_config', 'nextval', 'setval', 'currval', 'lastval',
                     'txid_current', 'txid_current_if_assigned', 'pg_current_xact_id',
                     'pg_current_xact_id_if_assigned') \gexec
REVOKE SELECT ON pg_catalog.pg_stat_activity FROM PUBLIC;
GRANT SELECT ON pg_catalog.pg_stat_activity TO :"owner";
-- the owner pauses and resumes a hot standby's replay: the replica tests hold a replica behind
-- a publication that way (tests/archive/test_replicas.py)
GRANT EXECUTE ON FUNCTION pg_wal_replay_pause(), pg_wal_replay_resume() TO :"owner";
