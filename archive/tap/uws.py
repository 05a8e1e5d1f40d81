"""UWS 1.1 documents of the TAP async jobs: the job list and one job (UWS 1.1, Sect. 2.2)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from archive.jobs.models import Job

UWS = "http://www.ivoa.net/xml/UWS/v1.0"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ET.register_namespace("uws", UWS)
ET.register_namespace("xlink", XLINK)
ET.register_namespace("xsi", XSI)
CONTENT_TYPE = "text/xml; charset=utf-8"


def timestamp(value: datetime | None) -> str | None:
    """DALI timestamp (UTC, milliseconds, a Z)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _el(parent: ET.Element, tag: str, text: str | None, nillable: bool = True) -> ET.Element:
    el = ET.SubElement(parent, f"{{{UWS}}}{tag}")
    if text is None:
        if nillable:
            el.set(f"{{{XSI}}}nil", "true")
    else:
        el.text = text
    return el


def owner_id(job: Job) -> str | None:
    return job.owner.get_username() if job.owner_id else None


def _serialise(root: ET.Element) -> bytes:
    root.set("version", "1.1")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def job_list(jobs: Iterable[Job], href) -> bytes:
    """``href(job)``: the job's URL."""
    root = ET.Element(f"{{{UWS}}}jobs")
    for job in jobs:
        ref = ET.SubElement(
            root, f"{{{UWS}}}jobref", {"id": job.public_id, f"{{{XLINK}}}href": href(job)}
        )
        _el(ref, "phase", job.phase)
        if job.run_id:
            _el(ref, "runId", job.run_id)
        _el(ref, "ownerId", owner_id(job))
        _el(ref, "creationTime", timestamp(job.creation_time))
    return _serialise(root)


def job_document(job: Job, result_href) -> bytes:
    """``result_href(job, result_id)``: where a result is served."""
    root = ET.Element(f"{{{UWS}}}job")
    _el(root, "jobId", job.public_id)
    if job.run_id:
        _el(root, "runId", job.run_id)
    _el(root, "ownerId", owner_id(job))
    _el(root, "phase", job.phase)
    _el(root, "quote", timestamp(job.quote))
    _el(root, "creationTime", timestamp(job.creation_time))
    _el(root, "startTime", timestamp(job.start_time))
    _el(root, "endTime", timestamp(job.end_time))
    _el(root, "executionDuration", str(job.execution_duration))
    _el(root, "destruction", timestamp(job.destruction_time))
    _parameters(root, job)
    _results(root, job, result_href)
    if job.phase == "ERROR" and job.error_summary:
        summary = ET.SubElement(
            root, f"{{{UWS}}}errorSummary", {"type": "fatal", "hasDetail": "true"}
        )
        _el(summary, "message", job.error_summary)
    return _serialise(root)


def _parameters(parent: ET.Element | None, job: Job) -> ET.Element:
    tag = f"{{{UWS}}}parameters"
    el = ET.Element(tag) if parent is None else ET.SubElement(parent, tag)
    for name, value in job.parameters.items():
        ET.SubElement(el, f"{{{UWS}}}parameter", {"id": name.lower()}).text = str(value)
    return el


def _results(parent: ET.Element | None, job: Job, result_href) -> ET.Element:
    tag = f"{{{UWS}}}results"
    el = ET.Element(tag) if parent is None else ET.SubElement(parent, tag)
    for result in job.result_list:
        attrs = {
            "id": result.id,
            f"{{{XLINK}}}type": "simple",
            f"{{{XLINK}}}href": result.href or result_href(job, result.id),
        }
        if result.size is not None:
            attrs["size"] = str(result.size)
        if result.content_type:
            attrs["mime-type"] = result.content_type
        ET.SubElement(el, f"{{{UWS}}}result", attrs)
    return el


def parameters_document(job: Job) -> bytes:
    return ET.tostring(_parameters(None, job), encoding="utf-8", xml_declaration=True)


def results_document(job: Job, result_href) -> bytes:
    return ET.tostring(_results(None, job, result_href), encoding="utf-8", xml_declaration=True)
