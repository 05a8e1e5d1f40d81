"""``manage.py pipeline run|status|cancel|resume|publish|rollback|delete``: staff operations."""

import time

from django.core.management.base import BaseCommand, CommandError

from archive.catalogue.models import ModelVersion
from archive.jobs.errors import TransitionError
from archive.ops.config_form import add_run_arguments, config_from_arguments
from archive.ops.deletion import DeleteRefused, delete_version
from archive.ops.models import PipelineRun
from archive.ops.publishing import PublishError, publish, rollback
from archive.ops.runs import cancel_run, resume_run, start_run
from labeling.config import ConfigError


class Command(BaseCommand):
    help = (
        "Start, watch, cancel and resume re-training runs; publish or roll back model versions. "
        "Runs are carried out by Celery workers (celery -A tasks worker). "
        "`pipeline ACTION --help` describes an action."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        def action(name: str, help: str):  # noqa: A002
            # help= lists the action under `pipeline --help`, description= heads its own --help
            return sub.add_parser(name, help=help, description=help)

        run = action(
            "run",
            "start a run: select, train the ensemble, label the catalogue, optionally publish "
            "(a Celery worker must be running); every option defaults as PipelineConfig does",
        )
        add_run_arguments(run)
        run.add_argument("--publish", action="store_true", help="publish when it succeeds")
        run.add_argument("--wait", action="store_true", help="follow it until it ends")
        run.add_argument(
            "--unless-published",
            action="store_true",
            help="do nothing when a version is already published (make demo)",
        )
        status = action("status", "show the latest runs (or one) and the published version")
        status.add_argument("run", type=int, nargs="?", help="a run's number (default: latest 10)")
        cancel = action(
            "cancel",
            "cancel an active run: its tasks stop at their next start (the last one sent is "
            "revoked); what is published is untouched",
        )
        cancel.add_argument("run", type=int, help="the run's number")
        resume = action(
            "resume",
            "carry on a cancelled or failed run without redoing finished work "
            "(members trained, chunks labelled)",
        )
        resume.add_argument("run", type=int, help="the run's number")
        resume.add_argument("--wait", action="store_true", help="follow it until it ends")
        pub = action("publish", "publish a ready model version: the catalogue switches to it")
        pub.add_argument("version", help="model version name (see `pipeline status`)")
        action(
            "rollback",
            "publish again the version the latest publication replaced",
        )
        delete = action(
            "delete",
            "delete a model version nothing published needs: its directory, its labels, its "
            "exports (refused, saying why, for the published version, the rollback target and "
            "any version ever published); an interrupted delete is finished by running it again",
        )
        delete.add_argument("version", help="model version name (see `pipeline status`)")

    def handle(self, action, **o):
        try:
            getattr(self, f"do_{action}")(**o)
        except (PublishError, TransitionError, ConfigError, DeleteRefused) as exc:
            raise CommandError(str(exc)) from exc

    def do_run(self, **o):
        current = ModelVersion.objects.published().first()
        if o["unless_published"] and current is not None:
            self.stdout.write(f"{current.name} is published already: no new run")
            return
        config = config_from_arguments(o)
        run = start_run(config, publish=o["publish"])
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
        try:
            runs = [PipelineRun.objects.get(pk=run)] if run else PipelineRun.objects.all()[:10]
        except PipelineRun.DoesNotExist as exc:
            raise CommandError(f"no run {run}") from exc
        for r in runs:
            version = r.model_version.name if r.model_version else "-"
            progress = f" ({r.progress_text})" if r.progress_text else ""
            self.stdout.write(
                f"run {r.pk}: {r.status}, {r.stage} {r.percent:.0f}%{progress}, "
                f"version {version}, counts {r.counts}" + (f", error: {r.error}" if r.error else "")
            )
        current = ModelVersion.objects.published().first()
        self.stdout.write(f"published: {current.name if current else 'nothing'}")

    def do_cancel(self, run, **o):
        if not PipelineRun.objects.filter(pk=run).exists():
            raise CommandError(f"no run {run}")
        if not cancel_run(run):
            raise CommandError(f"run {run} is not active")
        self.stdout.write(f"run {run} cancelled (its tasks stop at their next start)")

    def do_resume(self, run, **o):
        try:
            stage = resume_run(run)
        except PipelineRun.DoesNotExist as exc:
            raise CommandError(f"no run {run}") from exc
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

    def do_delete(self, version, **o):
        deleted = delete_version(version)
        directory = deleted.directory or "no directory left"
        self.stdout.write(f"deleted {deleted.name}: {directory}, {deleted.labels} label rows")
