#!/usr/bin/env bash
# First start of the database container: the same roles, database, extensions and privileges
# as scripts/services.py, from the same SQL files.
set -euo pipefail
psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER"
      -v owner="$RVS_DB_USER" -v reader="$RVS_DB_READER_USER" -v db="$RVS_DB_NAME")
"${psql[@]}" -d postgres -v owner_pw="$RVS_DB_PASSWORD" -v reader_pw="$RVS_DB_READER_PASSWORD" \
  -v reader_timeout="${RVS_READER_STATEMENT_TIMEOUT:-10min}" -f /rvscnn-sql/roles.sql
for db in template1 "$RVS_DB_NAME"; do
  "${psql[@]}" -d "$db" -f /rvscnn-sql/database.sql
done
