"""The export job: write a model version's bulk files (archive.exports.build) on a worker."""

from __future__ import annotations

from archive.catalogue.models import ModelVersion
from archive.exports.build import build_export
from archive.exports.store import export_dir
from archive.jobs import lifecycle
from archive.jobs.models import JobResult
from archive.tap.service import open_reader

from .celery import app


@app.task(name="exports.build", bind=True, acks_late=True, reject_on_worker_lost=True)
def build(self, job_id: int, attempt: int) -> str | None:
    """QUEUED → EXECUTING → COMPLETED with the export's manifest as result (ERROR saying why
    otherwise). A re-delivered or resumed task rebuilds from scratch: the half-written staging
    directory of the interrupted one is removed first and never served."""
    job = lifecycle.start(job_id, attempt, self.request.id or "")
    if job is None:
        return None
    name = job.parameters.get("version", "")
    try:
        version = ModelVersion.objects.get(name=name, status=ModelVersion.Status.READY)
        conn = open_reader()
        try:
            lifecycle.register_backend(job_id, attempt, conn.info.backend_pid)
            manifest = build_export(version, conn)
        finally:
            conn.close()
    except ModelVersion.DoesNotExist:
        lifecycle.fail(job_id, attempt, f"no ready model version {name!r}")
        return "ERROR"
    except Exception as exc:  # the job says why rather than staying EXECUTING
        lifecycle.fail(job_id, attempt, f"the export failed: {exc}")
        raise
    size = (export_dir(name) / "manifest.json").stat().st_size
    result = JobResult(
        id="manifest",
        path=str(export_dir(name) / "manifest.json"),
        content_type="application/json",
        size=size,
        rows=manifest.rows,
    )
    return "COMPLETED" if lifecycle.complete(job_id, attempt, [result]) else None
