"""Building a version's HATS catalogue (archive/exports/hats.py) from its Parquet export.

    .venv/bin/python bench/hats_build.py [--rows 1000000] [--small 100000]

Uses bench/exports.py's database (``rvscnn_bench_exports``, filled on first use). In a child
process per version: the Parquet export (without HATS), then hats-import over its files, each
timed; the child's peak RSS from wait4().
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.exports import ensure_database, env  # noqa: E402
from bench.timing import run_measured  # noqa: E402


def child(version: str) -> None:
    import django

    django.setup()
    from archive.catalogue.models import ModelVersion
    from archive.exports import hats
    from archive.exports.build import build_export
    from archive.exports.store import export_dir
    from archive.tap.service import open_reader

    the_version = ModelVersion.objects.get(name=version)
    start = time.perf_counter()
    manifest = build_export(the_version, open_reader(), formats=("parquet",), with_hats=False)
    parquet_s = time.perf_counter() - start
    files = [export_dir(version) / f.path for f in manifest.files]
    out = Path(tempfile.mkdtemp(prefix="hats-bench-"))
    try:
        start = time.perf_counter()
        built = hats.write_hats(files, out, out / "tmp")
        hats_s = time.perf_counter() - start
        size = sum(p.stat().st_size for p in built.rglob("*") if p.is_file())
        partitions = len(list(built.rglob("Npix=*")))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    result = {"parquet_s": parquet_s, "hats_s": hats_s, "bytes": size, "partitions": partitions}
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    ensure_database(args.rows, args.small)
    print(
        "| rows | Parquet export, s | HATS import, s | rows/s | HATS MB | partitions "
        "| peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|")
    for rows in (args.small, args.rows):
        cmd = [sys.executable, __file__, "--child", f"bench-{rows}"]
        r = run_measured(cmd, REPO, env())
        print(
            f"| {rows} | {r['parquet_s']:.1f} | {r['hats_s']:.1f} | {rows / r['hats_s']:.0f} "
            f"| {r['bytes'] / 1e6:.0f} | {r['partitions']} | {r['rss_mib']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
