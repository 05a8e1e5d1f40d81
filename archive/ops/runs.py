"""Starting, cancelling and resuming pipeline runs: what the staff pages and the CLI share.

A run is a job of kind "pipeline" (:mod:`archive.jobs`); its tasks are sent by name, so
nothing here imports ``tasks`` (or TensorFlow, which the tasks load).
"""

from archive.jobs import lifecycle
from archive.jobs.errors import TransitionError
from labeling.config import PipelineConfig

from .models import PipelineRun

#: task names of tasks/pipeline.py: the first stage, and carrying a resumed run on
START_TASK = "pipeline.start"
CARRY_ON_TASK = "pipeline.carry_on"

Stage = PipelineRun.Stage


class ResumeError(TransitionError):
    """The run cannot be resumed (it is not cancelled or failed)."""


def start_run(config: PipelineConfig, *, publish: bool = False, user=None) -> PipelineRun:
    """Create a run with ``config.to_dict()`` and send its first task."""
    run = PipelineRun.objects.create(config=config.to_dict(), publish=publish, created_by=user)
    lifecycle.enqueue(run)
    return run


def cancel_run(run_id: int) -> bool:
    """Abort the run (False: it was not active). Tasks already running stop at their next
    start; queued ones are revoked; what is published is never touched."""
    return lifecycle.abort(run_id)


def resume_run(run_id: int) -> str:
    """Carry a cancelled or failed run on from where it stopped; returns the stage it resumes.

    Nothing done is redone: a run without its plan starts over, one without its model version
    re-queues training (members on disk are kept) and finalize, one with a version re-queues
    the prediction chunks that are not complete, then ``finish``. The new attempt makes tasks
    still queued from before stop instead of doing work twice.
    """
    run = PipelineRun.objects.get(pk=run_id)
    if not run.can_resume:
        raise ResumeError(f"run {run_id} is {run.status}: only cancelled or failed runs resume")
    try:
        lifecycle.resume(run_id)
    except TransitionError as exc:  # resumed or restarted by someone else meanwhile
        raise ResumeError(str(exc)) from exc
    run.refresh_from_db()
    directory = run.directory
    if not (directory / "samples.npz").exists() or not (directory / "plan.npz").exists():
        run.add_log(f"resumed (attempt {run.attempt}): from the start")
        lifecycle.send(run, START_TASK)
        return Stage.SELECT
    if run.model_version_id is None:
        trained = len(list((directory / "members").glob("*.keras")))
        run.add_log(f"resumed (attempt {run.attempt}): training, {trained} members kept")
        lifecycle.send(run, CARRY_ON_TASK)
        return Stage.TRAIN
    run.add_log(f"resumed (attempt {run.attempt}): prediction with {run.model_version.name}")
    lifecycle.send(run, CARRY_ON_TASK)
    return Stage.PREDICT
