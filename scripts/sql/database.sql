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
