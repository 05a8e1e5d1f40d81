"""Immutable model-version directories: the 28 members of Sect. 3.2 and everything needed to
reproduce the catalogue from them (preprocessing, label ranges of Table 1, dispersion fits of
Sect. 3.4, t-SNE reference of Sect. 5.1, validation report).

Layout::

    <version>/
      members/member_00.keras ...
      artifacts/<name>.json          # JSON-able dicts: preprocessing, ranges, dispersion, ...
      files/<name>                   # copied files or directories
      config.json
      manifest.json                  # SHA-256 of every other file, code and framework versions

:func:`save_version` writes into a temporary sibling directory and renames it into place
(atomic), refuses to overwrite and leaves every file read-only. :func:`load_version` verifies
every hash and refuses (:class:`IncompatibleVersion`) a version in a format this code does
not read (``READS_FORMATS``) or written by another keras / tensorflow major.minor.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 2
#: formats this code reads: 1 had one t-SNE neighbourhood threshold for every S/N, which is
#: what :class:`labeling.flags.TsneReference` does with a version 1 reference still
READS_FORMATS = (1, 2)
MANIFEST = "manifest.json"
CONFIG = "config.json"
_CHUNK = 1 << 20


class VersionError(Exception):
    """A model version that cannot be written or used."""


class IncompatibleVersion(VersionError):
    """Written in a format this code does not read or by another keras/tensorflow major.minor."""


class CorruptVersion(VersionError):
    """A file missing, added or changed since the version was written (hash mismatch)."""


@dataclass
class LoadedVersion:
    """A verified model version: members (keras models, in order) and its metadata."""

    members: list[Any]
    artifacts: dict[str, dict]
    config: dict
    manifest: dict
    path: Path
    files: dict[str, Path] = field(default_factory=dict)


def package_version() -> str:
    """The installed version of this project (the ``labeling`` package), or "unknown"."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rvs-cnn-archive")
    except PackageNotFoundError:
        return "unknown"


def framework_versions() -> dict[str, str]:
    """Versions recorded in (and checked against) the manifest."""
    import keras
    import tensorflow as tf

    return {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _major_minor(v: str) -> tuple[str, ...]:
    return tuple(v.split(".")[:2])


# --- hashing --------------------------------------------------------------------------------


def _update(h: Any, a: np.ndarray, shape: tuple[int, ...] | None = None) -> None:
    if a.dtype.hasobject:
        raise TypeError("cannot hash object arrays; convert them to fixed-width types first")
    dt = a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype
    h.update(f"{dt.str}{tuple(a.shape if shape is None else shape)}".encode())


def _feed(h: Any, a: np.ndarray) -> None:
    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    h.update(memoryview(a).cast("B"))


def data_hash(*arrays: np.ndarray) -> str:
    """SHA-256 (hex) of arrays in order: dtype (little-endian), shape, then the raw bytes.

    Use it on the training data: source ids, labels and inputs (e.g.
    ``data_hash(source_id, labels, phot, xp, spectra)``); :func:`starset_hash` gives the same
    digest for a StarSet while streaming its spectra.
    """
    h = hashlib.sha256()
    for a in arrays:
        a = np.asarray(a)
        _update(h, a)
        _feed(h, a)
    return h.hexdigest()


def starset_hash(stars: Any, batch_size: int = 4096) -> str:
    """:func:`data_hash` of (source_id, labels, phot, xp, spectra) of a StarSet, with the
    spectra (raw float32 flux) read ``batch_size`` stars at a time."""
    from .labels import N_PIXELS

    h = hashlib.sha256()
    labels = stars.labels if stars.labels is not None else np.zeros((len(stars), 0))
    for a in (stars.source_id, labels, stars.phot, stars.xp):
        a = np.asarray(a)
        _update(h, a)
        _feed(h, a)
    n = len(stars)
    _update(h, np.empty((0,), np.float32), (n, N_PIXELS))
    for start in range(0, n, batch_size):
        idx = np.arange(start, min(start + batch_size, n))
        _feed(h, np.asarray(stars.spectra.get(idx), dtype=np.float32))
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _tree_hashes(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.relative_to(root).as_posix() != MANIFEST:
            out[p.relative_to(root).as_posix()] = file_sha256(p)
    return out


# --- writing --------------------------------------------------------------------------------


def _check_name(name: str, what: str) -> str:
    if not name or name.startswith(".") or "/" in name or "\\" in name or name in ("..",):
        raise ValueError(f"bad {what} name {name!r}")
    return name


def _make_read_only(root: Path) -> None:
    for p in sorted(root.rglob("*"), key=lambda q: -len(q.parts)):
        mode = stat.S_IMODE(p.lstat().st_mode)
        if p.is_symlink():
            continue
        if p.is_dir():
            p.chmod(mode & ~0o222 | 0o555)
        else:
            p.chmod(mode & ~0o222 | 0o444)


def _rmtree(path: Path) -> None:
    def onexc(func, p, exc):  # read-only trees: make writable and retry
        os.chmod(p, 0o700)
        if os.path.isdir(p):
            shutil.rmtree(p, onexc=onexc)
        else:
            os.unlink(p)

    for p in [path, *path.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o700)
    shutil.rmtree(path, onexc=onexc)


def save_version(
    path: str | os.PathLike,
    *,
    members: Sequence[Any],
    artifacts: Mapping[str, dict],
    files: Mapping[str, str | os.PathLike] | None = None,
    config: dict,
    data_hash: str,
) -> Path:
    """Write an immutable model version at ``path`` and return it (Sect. 3.2 ensemble).

    ``members``: saved .keras files or keras models, in order (member_00, member_01, ...).
    ``artifacts``: name → JSON-able dict (artifacts/<name>.json). ``files``: name → file or
    directory copied to files/<name>. Raises FileExistsError if ``path`` exists.
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"model version {path} exists; versions are never overwritten")
    if not members:
        raise ValueError("a model version needs at least one member")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        (tmp / "members").mkdir()
        for i, m in enumerate(members):
            dest = tmp / "members" / f"member_{i:02d}.keras"
            if isinstance(m, str | os.PathLike):
                if Path(m).suffix != ".keras":
                    raise ValueError(f"member {m} is not a .keras file")
                shutil.copyfile(m, dest)
            else:
                m.save(dest)
        (tmp / "artifacts").mkdir()
        for name, d in artifacts.items():
            text = json.dumps(d, indent=2, sort_keys=True, allow_nan=False)
            (tmp / "artifacts" / f"{_check_name(name, 'artifact')}.json").write_text(text + "\n")
        if files:
            (tmp / "files").mkdir()
            for name, src in files.items():
                src, dest = Path(src), tmp / "files" / _check_name(name, "file")
                if src.is_dir():
                    shutil.copytree(src, dest, symlinks=False)
                else:
                    shutil.copyfile(src, dest)
        (tmp / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        manifest = {
            "format_version": FORMAT_VERSION,
            "labeling_version": package_version(),
            "frameworks": framework_versions(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_hash": data_hash,
            "n_members": len(members),
            "artifacts": sorted(artifacts),
            "files": sorted(files or {}),
            "sha256": _tree_hashes(tmp),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _make_read_only(tmp)
        if path.exists():  # appeared meanwhile: rename() would replace an empty directory
            raise FileExistsError(f"model version {path} exists; versions are never overwritten")
        os.rename(tmp, path)
    except BaseException:
        if tmp.exists():
            _rmtree(tmp)
        raise
    return path


# --- reading --------------------------------------------------------------------------------


def read_manifest(path: str | os.PathLike) -> dict:
    """The manifest of a model version, checked for compatibility (no hashes, no models)."""
    path = Path(path)
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except FileNotFoundError:
        raise VersionError(f"{path} is not a model version (no {MANIFEST})") from None
    check_compatible(manifest, path)
    return manifest


def check_compatible(manifest: dict, path: str | os.PathLike = "model version") -> None:
    """Raise :class:`IncompatibleVersion` naming every difference that matters."""
    problems = []
    fmt = manifest.get("format_version")
    if fmt not in READS_FORMATS:
        problems.append(
            f"format_version {fmt} (this code reads {', '.join(map(str, READS_FORMATS))})"
        )
    written = manifest.get("frameworks", {})
    for name, running in framework_versions().items():
        if name not in ("keras", "tensorflow"):
            continue
        w = written.get(name)
        if w is None or _major_minor(w) != _major_minor(running):
            problems.append(f"{name} {w} (running {running}; major.minor must match)")
    if problems:
        raise IncompatibleVersion(
            f"{path} was written by an incompatible setup: " + "; ".join(problems)
        )


def verify_version(path: str | os.PathLike, manifest: dict | None = None) -> None:
    """Raise :class:`CorruptVersion` unless every file matches the manifest's SHA-256."""
    path = Path(path)
    manifest = read_manifest(path) if manifest is None else manifest
    expected: dict[str, str] = manifest.get("sha256", {})
    actual = _tree_hashes(path)
    changed = sorted(k for k in expected.keys() & actual.keys() if expected[k] != actual[k])
    missing = sorted(expected.keys() - actual.keys())
    added = sorted(actual.keys() - expected.keys())
    if changed or missing or added:
        parts = [
            f"{what}: {', '.join(names)}"
            for what, names in (("changed", changed), ("missing", missing), ("added", added))
            if names
        ]
        raise CorruptVersion(f"{path} fails its SHA-256 manifest: " + "; ".join(parts))


def load_version(path: str | os.PathLike, *, load_members: bool = True) -> LoadedVersion:
    """Verify and load a model version (members without optimiser state)."""
    import keras

    path = Path(path)
    manifest = read_manifest(path)
    verify_version(path, manifest)
    members = []
    if load_members:
        members = [
            keras.saving.load_model(path / "members" / f"member_{i:02d}.keras", compile=False)
            for i in range(manifest["n_members"])
        ]
    artifacts = {
        p.stem: json.loads(p.read_text()) for p in sorted((path / "artifacts").glob("*.json"))
    }
    files = {name: path / "files" / name for name in manifest.get("files", [])}
    return LoadedVersion(
        members=members,
        artifacts=artifacts,
        config=json.loads((path / CONFIG).read_text()),
        manifest=manifest,
        path=path,
        files=files,
    )
