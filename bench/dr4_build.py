"""A DR4-size published catalogue: 30 000 000 stars on a Galactic disc, kept between runs.

    python3 scripts/services.py start bench
    .venv/bin/python bench/dr4_build.py [--rows 30000000] [--db rvscnn_bench_dr4]

Builds, in the database --db of the ``bench`` instance (migrated like the real one, no
replica streaming the load), what bench/tap.py builds at 1M rows, at Gaia DR4 size:

- ``gaia_source``: positions drawn per HEALPix order-4 pixel from a Galactic model (an
  exponential disc in latitude, brighter towards the centre, a thin halo), placed at random
  order-12 sub-pixels with Gaia's source_id layout (order-12 pixel × 2^35 + a counter) and
  written in source_id order, as Gaia's own tables are; magnitudes, parallaxes and errors
  with the RVS sample's ranges. Binary COPY from numpy (archive/pgcopy.py).
- one model version's labels and errors in its own partition, with the demo's populations
  (giants and dwarfs, a thick-disc alpha sequence) and flag_boundary digits set at the rates
  the demo shows; then ``publish()`` as staff would, timed.

Every chunk is one transaction; a second run continues after the last finished chunk, and
prints the sizes (bytes per published row, table + indexes) and the time each stage took.
Checks the free disk first (about 500 bytes a star with the write-ahead log).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("RVS_INSTANCE", "bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")
os.environ["RVS_EXPORT_ON_PUBLISH"] = "0"  # the bench times publication, not exports

from bench.tap import migrate, params  # noqa: E402

VERSION = "bench-dr4"
ORDER, SUB = 4, 12  # density per order-4 pixel; stars at order-12 sub-pixels
SUB_PER_PIXEL = 4 ** (SUB - ORDER)
CHUNK_ROWS = 1_000_000
BYTES_PER_STAR = 500


def pixel_counts(rows: int, seed: int) -> np.ndarray:
    """Stars per order-4 pixel: an exponential disc (scale 10° in b), denser towards the
    Galactic centre, over a halo; the contrast between the plane and the poles is ~30x."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from cdshealpix import nested

    lon, lat = nested.healpix_to_lonlat(np.arange(12 * 4**ORDER, dtype=np.uint64), ORDER)
    gal = SkyCoord(ra=lon.to(u.deg), dec=lat.to(u.deg), frame="icrs").galactic
    b = np.abs(gal.b.deg)
    to_centre = gal.separation(SkyCoord(l=0 * u.deg, b=0 * u.deg, frame="galactic")).deg
    density = np.exp(-b / 10.0) * (0.5 + np.exp(-to_centre / 50.0)) + 0.04
    return np.random.default_rng(seed).multinomial(rows, density / density.sum())


def chunks(counts: np.ndarray) -> list[tuple[int, int, int]]:
    """(first pixel, end pixel, first row) of runs of pixels holding ~CHUNK_ROWS stars."""
    out, start, first, acc = [], 0, 0, 0
    for pix, n in enumerate(counts):
        acc += int(n)
        if acc >= CHUNK_ROWS or pix == len(counts) - 1:
            out.append((start, pix + 1, first))
            start, first, acc = pix + 1, first + acc, 0
    return out


def gaia_chunk(counts: np.ndarray, pix0: int, pix1: int, row0: int, seed: int) -> list:
    """The gaia_source columns of pixels [pix0, pix1) in source_id order."""
    import astropy.units as u
    from cdshealpix import nested

    from archive.pgcopy import Column

    rng = np.random.default_rng(seed)
    n_pix = counts[pix0:pix1]
    n = int(n_pix.sum())
    parent = np.repeat(np.arange(pix0, pix1, dtype=np.uint64), n_pix)
    sub = parent * SUB_PER_PIXEL + rng.integers(0, SUB_PER_PIXEL, n, dtype=np.uint64)
    sub.sort()
    lon, lat = nested.healpix_to_lonlat(sub, SUB)
    jitter = 0.8 / 60  # ° — within an order-12 pixel (0.86')
    dec = np.clip(lat.to_value(u.deg) + rng.uniform(-jitter, jitter, n) / 2, -90, 90)
    ra = (lon.to_value(u.deg) + rng.uniform(-jitter, jitter, n) / 2) % 360
    source_id = (sub.astype(np.int64) << 35) + row0 + np.arange(n, dtype=np.int64)
    g = 8 + 8 * np.sqrt(rng.uniform(0, 1, n))  # more faint stars, G 8..16
    colour = rng.uniform(0, 1, n)
    parallax = rng.lognormal(np.log(0.6), 0.8, n)
    f8 = "float8"
    return [
        Column("source_id", "int8", source_id),
        Column("ra", f8, ra),
        Column("dec", f8, dec),
        Column("parallax", f8, parallax),
        Column("parallax_error", f8, 0.01 + 0.04 * (g - 8) / 8 * rng.uniform(0.5, 1.5, n)),
        Column("phot_g_mean_mag", f8, g),
        Column("phot_bp_mean_mag", f8, g + 0.25 + 0.7 * colour),
        Column("phot_rp_mean_mag", f8, g - 0.55 - 0.5 * colour),
        Column("ruwe", f8, 0.85 + rng.exponential(0.15, n)),
        Column("rvs_spec_sig_to_noise", f8, 10 + 300 * np.exp(-(g - 8) / 2.5)),
    ]


LABELS_SQL = """
INSERT INTO cnn_label (model_version_id, source_id, teff, logg, m_h, alpha_m, fe_h,
  e_teff, sigma_teff, e_logg, sigma_logg, e_m_h, sigma_m_h, e_alpha_m, sigma_alpha_m,
  e_fe_h, sigma_fe_h, flag_boundary)
SELECT %(version)s, source_id, teff, logg, m_h, alpha_m, m_h - 0.1 * alpha_m + 0.03 * z3,
  abs(40 + 30 * z1), 60 + 40 * u, abs(0.05 + 0.04 * z2), 0.1 + 0.08 * u,
  abs(0.03 + 0.02 * z3), 0.06 + 0.04 * u, abs(0.02 + 0.01 * z1), 0.04 + 0.02 * u,
  abs(0.03 + 0.02 * z2), 0.06 + 0.04 * u,
  (CASE WHEN random() < 0.03 THEN '1' ELSE '0' END) || (CASE WHEN random() < 0.03 THEN '1'
   ELSE '0' END) || (CASE WHEN random() < 0.04 THEN '1' ELSE '0' END) || (CASE WHEN
   random() < 0.05 THEN '1' ELSE '0' END) || (CASE WHEN random() < 0.04 THEN '1' ELSE '0'
   END) || (CASE WHEN random() < 0.02 THEN '1' ELSE '0' END) || (CASE WHEN random() < 0.05
   THEN '1' ELSE '0' END) || (CASE WHEN random() < 0.12 THEN '1' ELSE '0' END)
FROM (
  SELECT source_id, u, z1, z2, z3,
    CASE WHEN giant THEN 4700 + 300 * z1 ELSE 5800 + 500 * z1 END AS teff,
    CASE WHEN giant THEN 2.5 + 0.5 * z2 ELSE 4.3 + 0.25 * z2 END AS logg,
    mh AS m_h,
    greatest(-0.1, least(0.45, 0.3 - 0.25 * (mh + 0.8) + 0.05 * z3)) AS alpha_m
  FROM (
    SELECT source_id, random() AS u, random() < 0.55 AS giant,
      sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z1,
      sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z2,
      sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS z3,
      -0.25 + 0.35 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS mh
    FROM gaia_source WHERE source_id >= %(lo)s AND source_id < %(hi)s
  ) AS draws
) AS stars
"""


def connect(dbname: str):
    import psycopg

    return psycopg.connect(**params(), dbname=dbname, autocommit=True)


def load_sources(conn, counts: np.ndarray, seed: int) -> float:
    from archive.pgcopy import copy_columns

    plan = chunks(counts)
    done = conn.execute("SELECT max(source_id) FROM gaia_source").fetchone()[0]
    t0 = time.perf_counter()
    for i, (pix0, pix1, row0) in enumerate(plan):
        first_id = (pix0 * SUB_PER_PIXEL << 35) + row0
        if done is not None and first_id <= done:
            continue
        columns = gaia_chunk(counts, pix0, pix1, row0, seed + 1 + i)
        with conn.transaction(), conn.cursor() as cur:
            copy_columns(cur, "gaia_source", columns)
        elapsed = time.perf_counter() - t0
        print(
            f"  gaia_source chunk {i + 1}/{len(plan)}: rows to {row0 + len(columns[0].values):,}"
            f" ({elapsed:.0f} s)",
            file=sys.stderr,
        )
    return time.perf_counter() - t0


def load_labels(conn, version_id: int, counts: np.ndarray) -> float:
    """Labels for every source, chunk by chunk in source_id ranges (resumable)."""
    plan = chunks(counts)
    done = conn.execute(
        "SELECT max(source_id) FROM cnn_label WHERE model_version_id = %s", [version_id]
    ).fetchone()[0]
    t0 = time.perf_counter()
    for i, (pix0, pix1, _) in enumerate(plan):
        lo, hi = pix0 * SUB_PER_PIXEL << 35, pix1 * SUB_PER_PIXEL << 35
        if done is not None and done >= lo:
            # a chunk commits whole: a chunk holding the largest labelled id is complete
            continue
        conn.execute(LABELS_SQL, {"version": version_id, "lo": lo, "hi": hi})
        print(
            f"  labels chunk {i + 1}/{len(plan)} ({time.perf_counter() - t0:.0f} s)",
            file=sys.stderr,
        )
    return time.perf_counter() - t0


def version_id(conn) -> int:
    row = conn.execute("SELECT id FROM model_version WHERE name = %s", [VERSION]).fetchone()
    if row:
        return row[0]
    return conn.execute(
        "INSERT INTO model_version (name, created_at, status, inputs, n_splits, n_members,"
        " config, path, data_hash, code_version, framework_versions, is_published)"
        " VALUES (%s, now(), 'ready', 'hybrid', 7, 4, '{}', '', '', '', '{}', false)"
        " RETURNING id",
        [VERSION],
    ).fetchone()[0]


def publish(db: str) -> float | None:
    """Publish through the archive's own publish(), as staff do; None if already published."""
    from django.db import connections

    from archive.catalogue.models import ModelVersion
    from archive.ops.publishing import publish as publish_version

    connections["default"].settings_dict["NAME"] = db
    version = ModelVersion.objects.get(name=VERSION)
    if version.is_published:
        return None
    t0 = time.perf_counter()
    publish_version(version, note="bench/dr4_build.py")
    return time.perf_counter() - t0


def sizes(conn, version: int, rows: int) -> dict[str, float]:
    from archive.catalogue.partitions import partition_name

    part = partition_name(version)
    out = {}
    for name, rel in (("gaia_source", "gaia_source"), ("labels", part)):
        table, total = conn.execute(
            "SELECT pg_table_size(%s::regclass), pg_total_relation_size(%s::regclass)",
            [rel, rel],
        ).fetchone()
        out[f"{name}_table_bytes_per_row"] = table / rows
        out[f"{name}_total_bytes_per_row"] = total / rows
    out["published_row_bytes"] = (
        out["gaia_source_total_bytes_per_row"] + out["labels_total_bytes_per_row"]
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=30_000_000)
    ap.add_argument("--db", default="rvscnn_bench_dr4")
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args()

    import django

    django.setup()
    migrate(args.db)  # bench/tap.py's: create if missing, then manage.py migrate
    conn = connect(args.db)
    have = conn.execute("SELECT count(*) FROM gaia_source").fetchone()[0]
    need = (args.rows - have) * BYTES_PER_STAR
    free = shutil.disk_usage(REPO / "var").free
    if need > free * 0.8:
        sys.exit(f"{need / 1e9:.0f} GB needed for {args.rows:,} stars, {free / 1e9:.0f} GB free")
    counts = pixel_counts(args.rows, args.seed)
    figures: dict[str, float] = {"rows": args.rows}
    figures["gaia_source_load_s"] = load_sources(conn, counts, args.seed)
    conn.execute("ANALYZE gaia_source")
    vid = version_id(conn)
    figures["labels_load_s"] = load_labels(conn, vid, counts)
    t0 = time.perf_counter()
    conn.execute("VACUUM ANALYZE gaia_source")
    conn.execute("VACUUM ANALYZE cnn_label")
    figures["vacuum_analyze_s"] = time.perf_counter() - t0
    seconds = publish(args.db)
    if seconds is not None:
        figures["publish_s"] = seconds
    n = conn.execute("SELECT count(*) FROM cnn_label WHERE model_version_id = %s", [vid])
    figures["labels"] = n.fetchone()[0]
    figures.update(sizes(conn, vid, figures["labels"]))
    plane = conn.execute(
        "SELECT avg((abs(degrees(asin(sin(radians(dec)) * 0.4559838 + cos(radians(dec))"
        " * 0.8899880 * cos(radians(ra - 192.85948))))) < 10)::int)"
        " FROM gaia_source TABLESAMPLE SYSTEM (0.1)"
    ).fetchone()[0]
    figures["fraction_within_10deg_of_plane"] = float(plane)  # 0.17 for a uniform sky
    print(json.dumps(figures, indent=1))
    out = REPO / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "dr4_build.json").write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
