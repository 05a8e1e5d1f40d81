"""One lifecycle for long work (pipeline runs, ADQL queries, exports) in the UWS 1.1 phases.

- :mod:`.models`: :class:`~.models.Job` (phase, owner, runId, times, executionDuration,
  destruction, quote, error summary, parameters, results, attempt, Celery task id, backend pid)
  and :class:`~.models.JobResult`; :mod:`.phases`: :class:`~.phases.Phase` and the transitions.
- :mod:`.lifecycle`: create, enqueue, start, complete, fail, abort, resume, archive, destroy;
  every move one conditional UPDATE.
- :mod:`.kinds`: :class:`~.kinds.Kind`, every kind of job; :mod:`.registry`: kind → Celery
  task name; :mod:`.queue` sends by name.
- :mod:`.access`: who sees a job (an account, an anonymous session, a TAP client by the job's
  random public id), for every view that shows one.

A new kind: add it to ``Kind`` and register it in its app's ``AppConfig.ready``
(``register(Kind.TAP_QUERY, task="tap.run_query")``); the view calls ``lifecycle.create`` with the
request's parameters, then ``lifecycle.enqueue`` (on UWS PHASE=RUN); the task, in ``tasks/``,
takes ``(job_id, attempt)``, calls ``lifecycle.start`` (None: do nothing), runs its query
inside ``lifecycle.backend(job_id, attempt, alias)`` so that abort cancels it, writes its file
under ``lifecycle.job_dir(job)`` and ends with ``lifecycle.complete(job_id, attempt,
[JobResult(id="result", path=..., content_type=..., size=..., rows=...)])`` or
``lifecycle.fail``. A kind that needs columns of its own extends ``Job`` (as
``ops.PipelineRun`` does). ``tasks/jobs.py``'s "probe" kind is the smallest complete example.
"""
