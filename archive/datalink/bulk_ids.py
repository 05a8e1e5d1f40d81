"""The IDs of a bulk spectra request, from any of: ID parameters (repeated, or one value with
IDs separated by commas or new lines), an uploaded table or list (UPLOAD), or the result of one
of the requester's finished TAP jobs (JOB). Their order is kept, duplicates too: the answer has
exactly one row per ID asked.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from urllib.parse import parse_qsl

from django.http import HttpRequest

from archive.errors import LimitExceeded, NotFound, UsageError

from .ids import ParsedId, parse_id

MAX_BULK_IDS = 100_000
_SEPARATORS = re.compile(r"[,;\r\n]+")


def form_pairs(request: HttpRequest, max_values: int) -> list[tuple[str, str]]:
    """(name, value) of the query string and a form body, parsed here rather than by Django,
    whose DATA_UPLOAD_MAX_NUMBER_FIELDS (1000) would refuse a long ID list with a bare 400;
    more than ``max_values`` is refused with a DALI error."""
    limit = max_values + 100
    try:
        pairs = parse_qsl(request.META.get("QUERY_STRING", ""), max_num_fields=limit)
        if request.method == "POST":
            ctype = request.content_type or ""
            if ctype == "application/x-www-form-urlencoded":
                body = request.body.decode(request.encoding or "utf-8", "replace")
                pairs += parse_qsl(body, max_num_fields=limit)
            elif ctype.startswith("multipart/"):
                pairs += [(k, v) for k in request.POST for v in request.POST.getlist(k)]
    except ValueError:
        raise LimitExceeded(f"more than {max_values} parameters in one request") from None
    if len(pairs) > limit:
        raise LimitExceeded(f"more than {max_values} parameters in one request")
    return pairs


def parameter(pairs: list[tuple[str, str]], name: str) -> str:
    return next((v for k, v in pairs if k.upper() == name), "").strip()


def _split(text: str) -> list[str]:
    return [t for t in (s.strip() for s in _SEPARATORS.split(text)) if t]


def _source_ids(table, what: str) -> list[str]:
    """The source_id column of a table (any case), else its only column."""
    names = {n.lower(): n for n in table.colnames}
    name = names.get("source_id") or (table.colnames[0] if len(table.colnames) == 1 else None)
    if name is None:
        raise UsageError(f"{what} has no source_id column (columns: {', '.join(table.colnames)})")
    column = table[name]
    if hasattr(column, "mask") and column.mask is not None and bool(column.mask.any()):
        return [str(v) if not m else "" for v, m in zip(column.data, column.mask, strict=True)]
    return [str(v) for v in column]


def _read_table(data: bytes, what: str):
    """A VOTable, FITS, Parquet or ECSV table; anything else is read as CSV or a plain list."""
    from astropy.table import Table
    from astropy.units import UnitsWarning

    start = data[:512].lstrip()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnitsWarning)
            if start.startswith((b"<?xml", b"<VOTABLE")):
                return Table.read(io.BytesIO(data), format="votable")
            if start.startswith(b"SIMPLE  ="):
                return Table.read(io.BytesIO(data), format="fits")
            if start.startswith(b"PAR1"):
                return Table.read(io.BytesIO(data), format="parquet")
            if start.startswith(b"# %ECSV"):
                return Table.read(data.decode(), format="ascii.ecsv")
    except Exception as exc:  # astropy raises many types for a broken file
        raise UsageError(f"{what} could not be read as a table: {exc}") from None
    return None


def _from_bytes(data: bytes, what: str) -> list[str]:
    table = _read_table(data, what)
    if table is not None:
        return _source_ids(table, what)
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise UsageError(f"{what} is neither a table nor a list of source_ids") from None
    if lines and lines[0].strip() and not lines[0].strip()[0].isdigit():
        head = [h.strip().lower() for h in lines[0].split(",")]
        if "source_id" in head:  # a CSV table: its source_id column
            col = head.index("source_id")
            return [r.split(",")[col].strip() for r in lines[1:] if r.strip()]
    return _split("\n".join(lines))


def _job_ids(request: HttpRequest, value: str) -> list[str]:
    """The source_ids of a finished TAP job's result that the requester may read."""
    from archive.jobs import lifecycle
    from archive.jobs.models import Job
    from archive.jobs.phases import Phase

    try:
        job_id = int(value)
    except ValueError:
        raise UsageError(f"JOB={value!r} is not a job number") from None
    jobs = Job.objects.filter(pk=job_id, kind="tap_query")
    if request.user.is_authenticated:
        jobs = jobs.filter(owner=request.user)
    else:
        jobs = jobs.filter(owner__isnull=True)
    job = jobs.first()
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.phase != Phase.COMPLETED:
        raise UsageError(f"job {job_id} is {job.phase}: only a COMPLETED job has a result")
    found = next((r for r in job.result_list if r.id == "result" and r.path), None)
    path = lifecycle.job_dir(job) / found.path if found else None
    if path is None or not Path(path).is_file():
        raise NotFound(f"the result of job {job_id} is gone")
    return _from_bytes(path.read_bytes(), f"the result of job {job_id}")


def requested_ids(request: HttpRequest, pairs: list[tuple[str, str]]) -> list[ParsedId]:
    texts = [t for k, v in pairs if k.upper() == "ID" for t in _split(v)]
    if request.method == "POST" and "UPLOAD" in request.FILES:
        upload = request.FILES["UPLOAD"]
        if upload.size > 64 * MAX_BULK_IDS * 4:
            raise LimitExceeded(f"an upload of {upload.size} bytes; a list of IDs is smaller")
        texts += _from_bytes(upload.read(), "the upload")
    job = parameter(pairs, "JOB")
    if job:
        texts += _job_ids(request, job)
    if not texts:
        raise UsageError("no IDs: give ID (Gaia DR3 source_ids), UPLOAD (a table) or JOB")
    if len(texts) > MAX_BULK_IDS:
        raise LimitExceeded(f"{len(texts)} IDs in one request; at most {MAX_BULK_IDS}")
    return [parse_id(t) for t in texts]
