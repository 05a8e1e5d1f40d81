"""The VOSI tableset (VOSI 1.1, VODataService 1.2) of a registry: ``/tap/tables``.

``detail="min"`` leaves the columns out (VOSI 1.1, Sect. 3.4); :func:`table_document` is the
document of one table (``/tap/tables/<name>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.etree import ElementTree as ET

from .registry import Registry, Schema, Table

VOSI = "http://www.ivoa.net/xml/VOSITables/v1.0"
VS = "http://www.ivoa.net/xml/VODataService/v1.1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ET.register_namespace("vosi", VOSI)
ET.register_namespace("vs", VS)
ET.register_namespace("xsi", XSI)


def _text(parent: ET.Element, tag: str, value: str | None) -> None:
    if value:
        ET.SubElement(parent, tag).text = value


def _table(parent: ET.Element, schema: Schema, table: Table, columns: bool, tag="table"):
    el = ET.SubElement(parent, tag, {"type": table.table_type})
    _text(el, "name", f"{schema.name}.{table.name}")
    _text(el, "description", table.description)
    _text(el, "utype", table.utype)
    if not columns:
        return el
    for c in table.columns:
        col = ET.SubElement(el, "column", {"std": "true"} if c.std else {})
        _text(col, "name", c.name)
        _text(col, "description", c.description)
        _text(col, "unit", c.unit)
        _text(col, "ucd", c.ucd)
        _text(col, "utype", c.utype)
        attrs = {f"{{{XSI}}}type": "vs:VOTableType"}
        if c.arraysize:
            attrs["arraysize"] = c.arraysize
        if c.xtype:
            attrs["extendedType"] = c.xtype
        ET.SubElement(col, "dataType", attrs).text = c.datatype
        if c.indexed:
            ET.SubElement(col, "flag").text = "indexed"
        if c.principal:
            ET.SubElement(col, "flag").text = "principal"
    for key in table.foreign_keys:
        fk = ET.SubElement(el, "foreignKey")
        _text(fk, "targetTable", key.target)
        for a, b in key.columns:
            pair = ET.SubElement(fk, "fkColumn")
            _text(pair, "fromColumn", a)
            _text(pair, "targetColumn", b)
        _text(fk, "description", key.description)
        _text(fk, "utype", key.utype)
    return el


def _serialise(root: ET.Element) -> bytes:
    # xsi:type values name the vs prefix, which no element uses: declare it by hand
    root.set("xmlns:vs", VS)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def tableset(registry: Registry, detail: str = "max", notes: Mapping[str, str] = {}) -> bytes:
    """``notes``: schema name -> a sentence appended to its description (how to cite it)."""
    root = ET.Element(f"{{{VOSI}}}tableset")
    for schema in registry.schemas:
        el = ET.SubElement(root, "schema")
        _text(el, "name", schema.name)
        note = notes.get(schema.name, "")
        _text(el, "description", " ".join(filter(None, [schema.description, note])))
        _text(el, "utype", schema.utype)
        for table in schema.tables:
            _table(el, schema, table, columns=detail != "min")
    return _serialise(root)


def table_document(registry: Registry, qualified: str) -> bytes:
    """One table with its columns; raises RegistryError for an unknown table."""
    table = registry.table(qualified)
    schema = next(s for s, t in registry.tables() if t is table)
    holder = ET.Element("holder")
    el = _table(holder, schema, table, columns=True, tag=f"{{{VOSI}}}table")
    return _serialise(el)
