"""The DataLink links document: a VOTable whose table has the DataLink 1.1 fields (Sect. 3.2),
MIME type ``application/x-votable+xml;content=datalink``."""

from __future__ import annotations

from collections.abc import Iterable

from archive.metadata.fields import VOField
from archive.results.votable import footer, header, xml_text

from .links import Link

CONTENT_TYPE = "application/x-votable+xml;content=datalink"


def _char(name: str, ucd: str, description: str) -> VOField:
    return VOField(name, "char", arraysize="*", ucd=ucd, description=description)


_ID = _char("ID", "meta.id;meta.main", "The identifier the links are for, as sent")
#: the ID column for clients that pair links with rows by an integer value (clients.py)
_INTEGER_ID = VOField("ID", "long", ucd="meta.id;meta.main", description=_ID.description)

FIELDS = (
    _ID,
    _char("access_url", "meta.ref.url", "URL of the linked resource"),
    _char("service_def", "meta.ref", "Reference to a service descriptor"),
    _char("error_message", "meta.code.error", "Why there is no link for this ID"),
    _char("semantics", "meta.code", "What the link is to the ID (IVOA datalink vocabulary)"),
    _char("description", "meta.note", "What the linked resource holds"),
    _char("content_type", "meta.code.mime", "MIME type of the linked resource"),
    VOField(
        "content_length",
        "long",
        unit="byte",
        ucd="phys.size;meta.file",
        description="Size of the linked resource, where known",
    ),
    _char("content_qualifier", "meta.code.class", "Product type (IVOA product-type vocabulary)"),
    _char("local_semantics", "meta.code", "What the link is, in this archive's words"),
    _char("link_auth", "meta.code", "Whether the link needs authentication: false, optional"),
    VOField(
        "link_authorized",
        "boolean",
        ucd="meta.code",
        description="Whether the requesting user may use the link",
    ),
)


def _cell(value: str) -> str:
    return f"<TD>{xml_text(value)}</TD>"


def _row(link: Link, integer_id: bool) -> str:
    error = bool(link.error_message)
    cells = [
        str(int(link.id)) if integer_id else link.id,
        link.access_url,
        "",
        link.error_message,
        link.semantics,
        link.description,
        link.content_type,
        "" if link.content_length is None else str(link.content_length),
        link.content_qualifier,
        link.local_semantics,
        "" if error else "false",
        "" if error else "true",
    ]
    return "<TR>" + "".join(_cell(c) for c in cells) + "</TR>\n"


def document(links: Iterable[Link], *, integer_ids: bool = False, overflow: bool = False) -> bytes:
    """The links in TABLEDATA; ``overflow``: the request had more IDs than one document
    answers, so the client asks again for the rest (DALI's OVERFLOW after the table)."""
    fields = ((_INTEGER_ID,) + FIELDS[1:]) if integer_ids else FIELDS
    body = "".join(_row(link, integer_ids) for link in links).encode()
    status = "OVERFLOW" if overflow else "OK"
    return header(fields, "TABLEDATA", table_name="links") + body + footer("TABLEDATA", status)
