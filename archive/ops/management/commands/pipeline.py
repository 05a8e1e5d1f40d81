"""``manage.py pipeline run|status|cancel|resume|publish|rollback``: staff operations, shell."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from archive.catalogue.models import ModelVersion
from archive.ops.models import PipelineRun
from archive.ops.publishing import PublishError, publish, rollback


class Command(BaseCommand):
    help = "Start, watch and cancel re-training runs; publish or roll back model versions"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="start a run (a Celery worker must be running)")
        run.add_argument("--splits", type=int, default=7)
        run.add_argument("--members", type=int, default=4, help="members per split")
        run.add_argument("--epochs", type=int, default=200)
        run.add_argument("--patience", type=int, default=20)
        run.add_argument("--inputs", choices=["hybrid", "rvs_only"], default="hybrid")
        run.add_argument("--perplexities", default="30,50,75,100")
        run.add_argument("--chunk-size", type=int, default=20_000)
        run.add_argument("--seed", type=int, default=0)
        run.add_argument("--publish", action="store_true", help="publish when it succeeds")
        run.add_argument("--wait", action="store_true", help="follow it until it ends")
        run.add_argument(
            "--unless-published",
            action="store_true",
            help="do nothing when a version is already published (make demo)",
        )
        status = sub.add_parser("status")
        status.add_argument("run", type=int, nargs="?")
        cancel = sub.add_parser("cancel")
        cancel.add_argument("run", type=int)
        resume = sub.add_parser("resume", help="carry on a cancelled or failed run")
        resume.add_argument("run", type=int)
        resume.add_argument("--wait", action="store_true", help="follow it until it ends")
        pub = sub.add_parser("publish")
        pub.add_argument("version", help="model version name")
        sub.add_parser("rollback")

    def handle(self, action, **o):
        try:
            getattr(self, f"do_{action}")(**o)
        except PublishError as exc:
            raise CommandError(str(exc)) from exc

    def do_run(self, **o):
        from tasks.pipeline import start

        current = ModelVersion.objects.filter(is_published=True).first()
        if o["unless_published"] and current is not None:
            self.stdout.write(f"{current.name} is published already: no new run")
            return
        config = {
            "n_splits": o["splits"],
            "n_members": o["members"],
            "epochs": o["epochs"],
            "patience": o["patience"],
            "inputs": o["inputs"],
            "seed": o["seed"],
            "chunk_size": o["chunk_size"],
            "tsne_perplexities": [int(p) for p in o["perplexities"].split(",")],
        }
        run = PipelineRun.objects.create(config=config, publish=o["publish"])
        start.delay(run.pk)
        self.stdout.write(f"run {run.pk} queued: {config}")
        if o["wait"]:
            self.follow(run)

    def follow(self, run: PipelineRun) -> None:
        shown = 0
        while True:
            run.refresh_from_db()
            lines = run.log.splitlines()
            for line in lines[shown:]:
                self.stdout.write(f"  {line}")
            shown = len(lines)
            if not run.is_active:
                break
            time.sleep(2)
        self.do_status(run=run.pk)
        if run.status != PipelineRun.Status.SUCCEEDED:
            raise CommandError(f"run {run.pk} {run.status}: {run.error}")

    def do_status(self, run=None, **o):
        runs = [PipelineRun.objects.get(pk=run)] if run else PipelineRun.objects.all()[:10]
        for r in runs:
            version = r.model_version.name if r.model_version else "-"
            self.stdout.write(
                f"run {r.pk}: {r.status}, {r.stage} {r.percent:.0f}%, "
                f"version {version}, counts {r.counts}" + (f", error: {r.error}" if r.error else "")
            )
        current = ModelVersion.objects.filter(is_published=True).first()
        self.stdout.write(f"published: {current.name if current else 'nothing'}")

    def do_cancel(self, run, **o):
        n = PipelineRun.objects.filter(pk=run, status__in=["queued", "running"]).update(
            status=PipelineRun.Status.CANCELLED, finished_at=timezone.now()
        )
        if not n:
            raise CommandError(f"run {run} is not active")
        self.stdout.write(f"run {run} cancelled (its tasks stop at their next start)")

    def do_resume(self, run, **o):
        from tasks.pipeline import resume

        try:
            stage = resume(run)
        except (ValueError, PipelineRun.DoesNotExist) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"run {run} resumed at stage {stage}")
        if o["wait"]:
            self.follow(PipelineRun.objects.get(pk=run))

    def do_publish(self, version, **o):
        try:
            v = ModelVersion.objects.get(name=version)
        except ModelVersion.DoesNotExist as exc:
            raise CommandError(f"no model version {version!r}") from exc
        publish(v, note="manage.py pipeline publish")
        self.stdout.write(f"published {v.name}")

    def do_rollback(self, **o):
        p = rollback()
        self.stdout.write(f"published {p.model_version.name} again (was {p.previous.name})")
