"""TAP request parameters (TAP 1.1 Sect. 2.3, DALI 1.1 Sect. 3): names case-insensitive, from
the query string and a form or multipart body alike; values are checked here, once."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from archive.errors import BadParameter, UsageError
from archive.results.stream import parse_maxrec

from .limits import Limits

LANGS = {"ADQL": "ADQL", "ADQL-2.0": "ADQL", "ADQL-2.1": "ADQL", "POSTGRESQL": "PostgreSQL"}


def collect(request: HttpRequest) -> dict[str, str]:
    """Every parameter, its name upper-cased; the query string first, a body value wins."""
    params: dict[str, str] = {}
    for source in (request.GET, request.POST):
        for key in source:
            params[key.upper()] = source.get(key)
    return params


#: the parameters an async job keeps (UWS parameters), as TAP names them
JOB_PARAMETERS = ("REQUEST", "LANG", "QUERY", "RESPONSEFORMAT", "FORMAT", "MAXREC", "UPLOAD")


def job_parameters_of(params: dict[str, str]) -> dict[str, str]:
    """The TAP parameters among a request's (checked when the job runs)."""
    return {k: v for k, v in params.items() if k in JOB_PARAMETERS}


@dataclass(frozen=True)
class QueryParams:
    """What a doQuery asks for."""

    lang: str  # "ADQL" or "PostgreSQL"
    query: str
    format: str | None
    maxrec: int | None
    upload: str | None
    run_id: str

    @classmethod
    def parse(cls, params: dict[str, str], limits: Limits) -> QueryParams:
        # TAP 1.1 (Sect. 2.3.1) no longer requires REQUEST; doQuery is the one it may name
        request = params.get("REQUEST")
        if request is not None and request != "doQuery":
            raise BadParameter("REQUEST", request, "doQuery")
        lang = params.get("LANG")
        if not lang:
            raise UsageError("LANG is missing: use LANG=ADQL")
        if lang.upper() not in LANGS:
            raise BadParameter("LANG", lang, "ADQL, ADQL-2.0, ADQL-2.1 or PostgreSQL")
        query = params.get("QUERY")
        if not query or not query.strip():
            raise UsageError("QUERY is missing or empty")
        fmt = params.get("RESPONSEFORMAT") or params.get("FORMAT") or None
        return cls(
            lang=LANGS[lang.upper()],
            query=query,
            format=fmt,
            maxrec=parse_maxrec(params.get("MAXREC"), limits.maxrec_default, limits.maxrec_hard),
            upload=params.get("UPLOAD") or None,
            run_id=params.get("RUNID", "")[:64],
        )
