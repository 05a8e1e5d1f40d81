"""Bulk export of a version: files by HEALPix level 8 in gzipped CSV, FITS and Parquet whose rows
add up to the catalogue, checksums that verify, astropy reading every file, and a build that is
interrupted leaving nothing served and re-running cleanly."""

import subprocess
import warnings

import numpy as np
import pytest
from astropy.table import Table, vstack
from astropy.units import UnitsWarning

from archive.exports import build, store
from archive.exports.partition import PIXELS, SHIFT, PixelRange, buckets, cover, ranges
from archive.results.query import Result, snapshot

pytestmark = pytest.mark.django_db(transaction=True)


def read(path) -> Table:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnitsWarning)
        if path.name.endswith(".csv.gz"):
            return Table.read(path, format="ascii.csv")
        if path.suffix == ".parquet":  # the VOTable-Parquet metadata: units, UCDs
            return Table.read(path, format="parquet.votable")
        return Table.read(path)


def test_ranges_group_pixels_and_cover_the_sky():
    groups = ranges([(0, 10), (3, 5), (9, 20), (700_000, 1)], rows_per_file=15)
    assert [(g.first, g.last, g.rows) for g in groups] == [
        (0, 8, 15),
        (9, 699_999, 20),
        (700_000, PIXELS - 1, 1),
    ]
    assert ranges([], 10) == []
    assert ranges([(5, 3)], 10) == [PixelRange(0, PIXELS - 1, 3)]
    first, last = groups[0].source_ids
    assert first == 0 and last == (9 << SHIFT) - 1


def test_the_database_groups_pixels_as_the_rule_says(version_stars):
    version, ids = version_stars
    pixels: dict[int, int] = {}
    for s in ids:
        pixels[s >> SHIFT] = pixels.get(s >> SHIFT, 0) + 1
    for per_file in (1, 300, 500, 10_000):
        expected = buckets(sorted(pixels.items()), per_file)
        assert build.pixel_groups(version.pk, per_file) == expected


def test_export_rows_add_up_checksums_verify_and_astropy_reads_every_file(version_stars, reader):
    version, ids = version_stars
    manifest = build.build_export(version, reader, rows_per_file=500)
    root = store.export_dir(version.name)
    assert manifest.rows == len(ids)
    for fmt in ("csv", "fits", "parquet"):
        files = [f for f in manifest.files if f.format == fmt]
        assert len(files) >= 3 and sum(f.rows for f in files) == len(ids)
        tables = []
        for f in files:
            table = read(root / f.path)
            assert len(table) == f.rows
            pixels = np.asarray(table["source_id"], dtype=np.int64) >> SHIFT
            assert pixels.min() >= f.first_pixel and pixels.max() <= f.last_pixel
            assert list(table["source_id"]) == sorted(table["source_id"])
            tables.append(table)
        everything = vstack(tables)
        assert sorted(int(s) for s in everything["source_id"]) == ids
        assert set(everything["model_version"]) == {version.name}
        if fmt != "csv":
            assert str(tables[0]["teff"].unit) == "K", fmt
            assert str(tables[0]["ra"].unit) == "deg", fmt
    check = subprocess.run(["md5sum", "-c", "MD5SUM"], cwd=root, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len(manifest.files) + 2  # + README and COLUMNS
    columns = Table.read(root / "COLUMNS.csv", format="ascii.csv")
    registry = {f.name: f for f in build.fields()}
    assert list(columns["name"]) == list(registry)
    assert columns["unit"][list(columns["name"]).index("teff")] == "K"
    readme = (root / "README.txt").read_text()
    assert version.name in readme and "md5sum -c MD5SUM" in readme


def test_known_file_sizes_are_what_the_database_would_say(version_stars, reader):
    # FITS exports take their header from file_sizes instead of a second pass of the query
    version, _ = version_stars
    cols = build.fields()
    for group in cover(build.pixel_groups(version.pk, 500)):
        sql = build.select_sql(reader, version.name, *group.source_ids)
        with snapshot(reader) as cur:
            measured = Result(cur, sql, cols).sizes()
        known = build.file_sizes(cols, version.name, group.rows)
        assert (known.rows, known.widths) == (measured.rows, measured.widths)
        assert {i: r[2] for i, r in known.ranges.items()} == {
            i: r[2] for i, r in measured.ranges.items()
        }


def test_interrupted_export_is_never_served_and_reruns_cleanly(version_stars, reader, monkeypatch):
    version, ids = version_stars
    written = []
    real = build.write_stream

    def dies_on_the_third_file(blocks, path, gzip):
        if len(written) == 2:
            raise OSError("disk full")
        written.append(path)
        return real(blocks, path, gzip)

    monkeypatch.setattr(build, "write_stream", dies_on_the_third_file)
    with pytest.raises(OSError, match="disk full"):
        build.build_export(version, reader, rows_per_file=500)
    assert not store.export_dir(version.name).exists()
    assert store.stale_builds(version.name) == [] and version.name not in store.complete_exports()
    # a worker killed mid-build leaves its staging directory: never listed, removed by the next
    killed = store.staging_dir(version.name, "killed")
    (killed / "csv").mkdir(parents=True)
    (killed / "csv" / "RvsCnn_000000-000007.csv.gz").write_bytes(b"\x1f\x8b half")
    assert version.name not in store.complete_exports()
    monkeypatch.setattr(build, "write_stream", real)
    manifest = build.build_export(version, reader, rows_per_file=500)
    assert not killed.exists() and store.complete_exports()[version.name] == manifest
    # a rebuild swaps the whole directory at once
    again = build.build_export(version, reader, rows_per_file=10_000)
    assert len(again.files) == 3 and store.complete_exports()[version.name] == again
    files = [p for p in store.export_dir(version.name).glob("*/*") if p.parent.name != "hats"]
    assert sorted(p.name for p in files) == sorted(f.path.split("/")[1] for f in again.files)
    # the HATS catalogue is rebuilt with them (where the hats extra is installed)
    assert again.hats == ("hats/rvs_cnn" if build.hats.available() else "")


def test_a_failing_disk_write_fails_the_build(version_stars, reader, monkeypatch):
    version, _ = version_stars
    calls = []
    real = build._HashingFile.write

    def fails_later(self, data):
        calls.append(len(data))
        if len(calls) == 3:
            raise OSError("No space left on device")
        real(self, data)

    monkeypatch.setattr(build._HashingFile, "write", fails_later)
    with pytest.raises(OSError, match="No space left"):
        build.build_export(version, reader, rows_per_file=500)
    assert not store.export_dir(version.name).exists() and not store.stale_builds(version.name)


def test_deleting_the_version_deletes_its_export(version_stars, reader):
    version, _ = version_stars
    build.build_export(version, reader, formats=("csv",), rows_per_file=500)
    assert store.export_dir(version.name).is_dir()
    version.delete()
    assert not store.export_dir(version.name).exists()
