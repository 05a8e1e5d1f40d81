"""Runs made before the jobs layer become jobs of kind "pipeline": ids, phases, owners kept."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("ops", "0002_run_attempt")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_runs_become_jobs_and_back():
    old = migrate(BEFORE)
    user = old.get_model("auth", "User").objects.create(username="ops")
    Run = old.get_model("ops", "PipelineRun")
    statuses = ["queued", "running", "succeeded", "failed", "cancelled"]
    made = [
        Run.objects.create(status=s, config={"n_splits": 1, "seed": i}, created_by=user, attempt=i)
        for i, s in enumerate(statuses, start=1)
    ]
    made[3].error = "boom"
    made[3].save()
    try:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
        from archive.ops.models import PipelineRun

        runs = {r.pk: r for r in PipelineRun.objects.all()}
        assert sorted(runs) == [r.pk for r in made]
        for before in made:
            after = runs[before.pk]
            assert after.status == before.status and after.kind == "pipeline"
            assert (after.config, after.attempt, after.created_by.username) == (
                before.config,
                before.attempt,
                "ops",
            )
        assert runs[made[3].pk].phase == "ERROR" and runs[made[3].pk].error == "boom"
        newer = PipelineRun.objects.create(config={})
        assert newer.pk > max(runs)  # the job ids go on after the runs'
        newer.delete()
        old = migrate(BEFORE)  # and back: the runs as they were
        back = {r.pk: r for r in old.get_model("ops", "PipelineRun").objects.all()}
        assert [(back[r.pk].status, back[r.pk].error) for r in made] == [
            (r.status, r.error) for r in made
        ]
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM job WHERE kind = 'pipeline'")
            assert cur.fetchone() == (0,)
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
