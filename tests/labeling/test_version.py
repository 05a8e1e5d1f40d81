"""Immutable model-version directories (the 28-member ensemble of Sect. 3.2 and its artifacts)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import shutil  # noqa: E402
import stat  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from labeling.dataset import ArraySpectra, StarSet  # noqa: E402
from labeling.model import build_model  # noqa: E402
from labeling.version import (  # noqa: E402
    FORMAT_VERSION,
    CorruptVersion,
    IncompatibleVersion,
    data_hash,
    load_version,
    save_version,
    starset_hash,
)

RNG = np.random.default_rng(0)
X = {
    "spectrum": RNG.random((8, 2401, 1), np.float32),
    "phot": RNG.random((8, 4), np.float32),
    "xp": RNG.random((8, 110), np.float32),
}


@pytest.fixture(scope="module")
def version(tmp_path_factory) -> tuple[Path, list[keras.Model]]:
    keras.utils.set_random_seed(0)
    members = [build_model(), build_model()]
    root = tmp_path_factory.mktemp("versions")
    on_disk = root / "m1.keras"
    members[1].save(on_disk)
    report = root / "report"
    report.mkdir()
    (report / "index.html").write_text("<p>validation</p>")
    (root / "tsne.npz").write_bytes(b"reference")
    path = save_version(
        root / "v1",
        members=[members[0], on_disk],
        artifacts={"preprocessing": {"xp_ref": [1.0, 2.0]}, "ranges": {"teff": [3500, 7000]}},
        files={"validation": report, "tsne.npz": root / "tsne.npz"},
        config={"n_splits": 7, "n_members": 4},
        data_hash="abc",
    )
    return path, members


def _writable_copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    for p in [dest, *dest.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dest


def test_layout_manifest_and_read_only(version):
    path, _ = version
    names = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}
    assert names == {
        "members/member_00.keras",
        "members/member_01.keras",
        "artifacts/preprocessing.json",
        "artifacts/ranges.json",
        "files/validation/index.html",
        "files/tsne.npz",
        "config.json",
        "manifest.json",
    }
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert set(manifest["frameworks"]) == {"tensorflow", "keras", "numpy", "python"}
    assert manifest["frameworks"]["keras"] == keras.__version__
    assert manifest["labeling_version"]
    assert set(manifest["sha256"]) == names - {"manifest.json"}
    assert manifest["data_hash"] == "abc" and manifest["n_members"] == 2
    for p in path.rglob("*"):
        assert not stat.S_IMODE(p.stat().st_mode) & 0o222, p
    assert not list(path.parent.glob(".v1.tmp-*"))


def test_round_trip_predicts_identically(version):
    path, members = version
    loaded = load_version(path)
    assert len(loaded.members) == 2
    for original, back in zip(members, loaded.members, strict=True):
        np.testing.assert_array_equal(original.predict(X, verbose=0), back.predict(X, verbose=0))
    assert loaded.artifacts["ranges"] == {"teff": [3500, 7000]}
    assert loaded.config == {"n_splits": 7, "n_members": 4}
    assert (loaded.files["validation"] / "index.html").read_text() == "<p>validation</p>"
    assert loaded.files["tsne.npz"].read_bytes() == b"reference"


def test_overwrite_refused(version):
    path, members = version
    with pytest.raises(FileExistsError, match="never overwritten"):
        save_version(path, members=members, artifacts={}, config={}, data_hash="x")


def test_tampered_file_fails_hash(version, tmp_path):
    copy = _writable_copy(version[0], tmp_path / "v")
    p = copy / "artifacts" / "ranges.json"
    p.write_text(p.read_text().replace("7000", "7001"))
    with pytest.raises(CorruptVersion, match="changed: artifacts/ranges.json"):
        load_version(copy, load_members=False)
    copy2 = _writable_copy(version[0], tmp_path / "w")
    (copy2 / "members" / "member_01.keras").unlink()
    (copy2 / "extra.txt").write_text("x")
    with pytest.raises(CorruptVersion, match="missing: members/member_01.keras.*added: extra"):
        load_version(copy2)


def test_other_keras_minor_refused(version, tmp_path):
    copy = _writable_copy(version[0], tmp_path / "v")
    mf = copy / "manifest.json"
    manifest = json.loads(mf.read_text())
    major, minor = keras.__version__.split(".")[:2]
    manifest["frameworks"]["keras"] = f"{major}.{int(minor) + 1}.0"
    mf.write_text(json.dumps(manifest))
    with pytest.raises(IncompatibleVersion, match=r"keras 3\.\d+\.0 \(running"):
        load_version(copy)
    manifest["frameworks"]["keras"] = keras.__version__.rsplit(".", 1)[0] + ".99"  # patch: ok
    manifest["format_version"] = FORMAT_VERSION + 1
    mf.write_text(json.dumps(manifest))
    with pytest.raises(IncompatibleVersion, match="format_version"):
        load_version(copy)
    manifest["format_version"] = 1  # an older format this code still reads
    mf.write_text(json.dumps(manifest))
    assert load_version(copy).manifest["format_version"] == 1


def test_data_hash_is_stable():
    ids = np.array([3, 1, 2], np.int64)
    lab = np.arange(15, dtype=np.float64).reshape(3, 5)
    h = data_hash(ids, lab)
    assert h == data_hash(ids.copy(), lab.astype(">f8"))  # byte order does not matter
    assert h != data_hash(ids, lab.astype(np.float32))  # the dtype does
    assert h != data_hash(ids[::-1], lab)
    assert h != data_hash(np.concatenate([ids, lab.ravel().astype(np.int64)]))
    flux = RNG.random((5, 2401), np.float32)
    flux[0, 3] = np.nan
    stars = StarSet(
        source_id=np.arange(5, dtype=np.int64),
        spectra=ArraySpectra(flux),
        phot=RNG.random((5, 4)),
        xp=RNG.random((5, 110)),
        snr=np.ones(5),
        labels=RNG.random((5, 5)),
    )
    want = data_hash(stars.source_id, stars.labels, stars.phot, stars.xp, flux)
    assert starset_hash(stars, batch_size=2) == want
