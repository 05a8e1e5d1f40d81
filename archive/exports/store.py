"""Where exports live: ``RVS_EXPORTS_DIR/<version>/`` once complete, with ``manifest.json``;
builds write into a hidden sibling and appear by one rename, so a served directory is always
whole and an interrupted build leaves nothing that is served."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

MANIFEST = "manifest.json"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def root() -> Path:
    """``RVS_EXPORTS_DIR``; by default "exports" beside the runs (the jobs' files are there too)."""
    configured = getattr(settings, "RVS_EXPORTS_DIR", None)
    return Path(configured) if configured else Path(settings.RVS_RUNS_DIR).parent / "exports"


def is_safe_name(version: str) -> bool:
    return bool(_SAFE.match(version)) and ".." not in version


def export_dir(version: str) -> Path:
    if not is_safe_name(version):
        raise ValueError(f"{version!r} cannot name an export directory")
    return root() / version


def staging_dir(version: str, token: str) -> Path:
    return root() / f".{version}.building-{token}"


def stale_builds(version: str) -> list[Path]:
    return sorted(root().glob(f".{version}.building-*"))


@dataclass(frozen=True)
class ExportFile:
    path: str  # relative to the export directory
    format: str
    first_pixel: int
    last_pixel: int
    rows: int
    size: int
    md5: str


@dataclass(frozen=True)
class Manifest:
    version: str
    created: str
    rows: int
    files: tuple[ExportFile, ...]
    healpix_level: int = 8
    #: the HATS catalogue's directory, relative to the export's ("" when none was built)
    hats: str = ""

    def to_json(self) -> str:
        data = {**self.__dict__, "files": [f.__dict__ for f in self.files]}
        return json.dumps(data, indent=1)

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        data = json.loads((directory / MANIFEST).read_text())
        data["files"] = tuple(ExportFile(**f) for f in data["files"])
        return cls(**data)


def complete_exports() -> dict[str, Manifest]:
    """version name -> manifest of every complete export on disk."""
    found = {}
    if not root().is_dir():
        return found
    for d in sorted(root().iterdir()):
        if d.is_dir() and not d.name.startswith(".") and (d / MANIFEST).is_file():
            found[d.name] = Manifest.read(d)
    return found


def remove_export(version: str) -> None:
    """Delete a version's export and any build of it in progress."""
    if not is_safe_name(version):
        return
    for d in [export_dir(version), *stale_builds(version)]:
        shutil.rmtree(d, ignore_errors=True)
