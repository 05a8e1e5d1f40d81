"""Each version's partition of cnn_label keyed by source_id alone (issue 24 first byte, 29.3).

A partitioned table's primary key must hold the partition column, so cnn_label's was
(model_version_id, source_id). PostgreSQL costs a scan of a two-column index as only 0.75
correlated with the heap, so at 30M rows it never read the published partition in source_id
order: a whole-table download hashed all of gaia_source (batched to disk) before its first row
left — 7–15 s at 30M, 53 s against 82 s in all. Keyed by source_id alone (in a partition the
version is one value, so the key says the same), the planner merges the two tables in
source_id order by itself: the first row leaves at once. The single-column key is also 9 bytes
a row smaller. The parent keeps no key of its own; the Django state keeps the composite key,
which every partition's key implies.
"""

from django.db import migrations


def partition_function(key: str) -> str:
    """public.cnn_label_partition: a version's partition, made and attached if missing; ``key``
    the table constraints it is created with (its primary key; none before this migration)."""
    return f"""
CREATE OR REPLACE FUNCTION public.cnn_label_partition(version bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  part text := 'cnn_label_v' || version;
BEGIN
  IF to_regclass('public.' || part) IS NULL THEN
    EXECUTE format('CREATE TABLE public.%I (LIKE public.cnn_label INCLUDING DEFAULTS '
                   'INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS{key})', part);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_inherits
                 WHERE inhrelid = to_regclass('public.' || part)) THEN
    EXECUTE format('ALTER TABLE public.cnn_label ATTACH PARTITION public.%I '
                   'FOR VALUES IN (%s)', part, version);
  END IF;
  RETURN part;
END $$;
"""


def each_partition(statement: str) -> str:
    """A DO block running ``statement`` (a format() string of %I the partition, %I its key's
    name) on every partition of cnn_label."""
    return f"""
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'public.cnn_label'::regclass
  LOOP
    EXECUTE format('{statement}', r.relname, r.relname || '_pkey');
  END LOOP;
END $$;"""


FORWARD = f"""
ALTER TABLE public.cnn_label DROP CONSTRAINT cnn_label_pkey;
{each_partition("ALTER TABLE public.%I ADD CONSTRAINT %I PRIMARY KEY (source_id)")}
{partition_function(", PRIMARY KEY (source_id)")}
"""

BACKWARD = f"""
{each_partition("ALTER TABLE public.%I DROP CONSTRAINT %I")}
ALTER TABLE public.cnn_label ADD CONSTRAINT cnn_label_pkey PRIMARY KEY (model_version_id, source_id);
{partition_function("")}"""


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0009_label_float32_partitions")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
