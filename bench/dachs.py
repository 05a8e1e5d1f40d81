"""Side by side with GAVO DaCHS on the same 1 000 000 rows (issue 24): its workload, both
services, alternating rounds, one run.

    bash ../shared/bench/dachs/setup.sh            # once, as root: DaCHS on :8080 (~5 min)
    .venv/bin/python bench/dachs.py [--rounds 2] [--repeat 20] [--skip-full]

Needs the test services (``python3 scripts/services.py start test``), or another instance's
(``RVS_INSTANCE=bench``). The catalogue DaCHS
serves (``/tmp/dachs-anchor/data/rvs_cat.csv``, make_catalogue.py's seed 42) is loaded once
into the database ``rvscnn_bench_dachs`` through the archive's own write path (gaia_source by
COPY, the labels by ``write_labels``, then ``publish``), so that both services hold the same
rows; ours is served by gunicorn and a Celery worker as the demo serves it (bench/tap.py's
``Service``). Then ``tap_workload.py`` (../shared/bench/dachs/) runs against DaCHS and ours in
turn, ``--rounds`` times, on the 19 columns both tables have; the printout gives each query's
median per service, the ratio ours/DaCHS, and the bytes of each full download per row.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("RVS_INSTANCE", "test")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")

DB = "rvscnn_bench_dachs"
os.environ["RVS_DB_NAME"] = DB  # before Django's settings are first read
VERSION = "dachs-1m"
ANCHOR = REPO.parent / "shared" / "bench" / "dachs"
CSV = Path(os.environ.get("DACHS_ANCHOR_DATA", "/tmp/dachs-anchor/data")) / "rvs_cat.csv"
DACHS_URL = "http://127.0.0.1:8080/tap"
#: the workload's canonical names -> ours (the 19 columns both tables have)
OURS = {"mh": "m_h", "alpham": "alpha_m", "feh": "fe_h"}
COMMON = ["source_id", "ra", "dec", "teff", "logg", "mh", "alpham", "feh"]
COMMON += [f"{p}_{k}" for p in ("e", "sigma") for k in ("teff", "logg", "mh", "alpham", "feh")]
COMMON += ["flag_boundary"]
CHUNK = 100_000


def ours(name: str) -> str:
    for canon, mine in OURS.items():
        if name.endswith(canon):
            return name[: -len(canon)] + mine
    return name


def load() -> None:
    """The DaCHS catalogue into ``DB`` as a published model version (kept between runs)."""
    import psycopg
    from tap import params

    with psycopg.connect(**params(), dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f"CREATE DATABASE {DB}")
    os.environ["RVS_DB_NAME"] = DB
    env = {**os.environ}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env=env,
        check=True,
    )
    import django

    django.setup()
    import numpy as np
    import pyarrow.csv as pacsv
    from django.db import connection

    from archive.catalogue.cnn_labels import write_labels
    from archive.catalogue.models import ModelVersion
    from archive.ops.publishing import publish
    from archive.pgcopy import Column, copy_columns
    from labeling.pipeline import Labelled

    done = ModelVersion.objects.filter(name=VERSION, is_published=True).first()
    if done is not None and done.labels.count() == 1_000_000:
        return
    print(f"loading {CSV} into {DB} ...", file=sys.stderr, flush=True)
    options = pacsv.ConvertOptions(column_types={"flag_boundary": "string"})
    table = pacsv.read_csv(CSV, convert_options=options)
    col = {name: table[name].to_numpy() for name in table.column_names}
    n = len(col["source_id"])
    ModelVersion.objects.filter(name=VERSION).delete()
    with connection.cursor() as cur:
        cur.execute("TRUNCATE gaia_source CASCADE")
        text = np.full(n, "", dtype=object)
        copy_columns(
            cur,
            "gaia_source",
            [
                Column("source_id", "int8", col["source_id"].astype(np.int64)),
                Column("ra", "float8", col["ra"]),
                Column("dec", "float8", col["dec"]),
                Column("parallax", "float8", col["parallax"]),
                Column("phot_g_mean_mag", "float8", col["phot_g_mean_mag"]),
                Column("rvs_spec_sig_to_noise", "float8", col["snr"]),
                Column("phot_variable_flag", "text", np.full(n, "NOT_AVAILABLE", dtype=object)),
                Column("classlabel_espels", "text", text),
            ],
        )
    version = ModelVersion.objects.create(
        name=VERSION, status=ModelVersion.Status.LABELLING, n_splits=7, n_members=4, config={}
    )
    block = {p: np.stack([col[f"{p}{k}"] for k in OURS_ORDER], axis=1) for p in ("", "e_")}
    sigma = np.stack([col[f"sigma_{k}"] for k in OURS_ORDER], axis=1)
    flags = col["flag_boundary"].astype("U8")
    for lo in range(0, n, CHUNK):
        s = slice(lo, lo + CHUNK)
        write_labels(
            version.pk,
            Labelled(col["source_id"][s], block[""][s], block["e_"][s], sigma[s], flags[s]),
        )
    version.status = ModelVersion.Status.READY
    version.save(update_fields=["status"])
    publish(version, note="bench/dachs.py: the DaCHS anchor's rows")
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE gaia_source")


#: the CSV's label names in labeling.labels.LABELS order (teff, logg, m_h, alpha_m, fe_h)
OURS_ORDER = ["teff", "logg", "mh", "alpham", "feh"]


def workload(url: str, table: str, mine: bool, args, out: Path) -> dict:
    names = [ours(c) if mine else c for c in COMMON]
    cmd = [
        sys.executable,
        str(ANCHOR / "tap_workload.py"),
        f"--url={url}",
        f"--table={table}",
        f"--select={', '.join(names)}",
        f"--repeat={args.repeat}",
        "--warmup=2",
        "--async-repeat=5",
        "--full-repeat=1",
        "--no-parse",
        "--full-formats=csv,votable-b2,fits",
        f"--json-out={out}",
    ]
    if mine:
        cmd.append("--columns=" + ",".join(f"{c}={ours(c)}" for c in COMMON if ours(c) != c))
    if args.skip_full:
        cmd.append("--skip=full")
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())["results"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--skip-full", action="store_true")
    ap.add_argument("--load-only", action="store_true", help="load the rows, measure nothing")
    args = ap.parse_args()
    if not CSV.exists():
        raise SystemExit(f"no {CSV}: run {ANCHOR / 'setup.sh'} first (as root)")
    load()
    if args.load_only:
        return
    import tap

    tap.set_db(DB)
    service = tap.Service()
    work = REPO / "var" / "bench" / "dachs"
    work.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[dict]] = {"dachs": [], "ours": []}
    try:
        for r in range(args.rounds):
            runs["dachs"].append(
                workload(DACHS_URL, "rvscat.main", False, args, work / f"d{r}.json")
            )
            runs["ours"].append(
                workload(service.url, "gaiadr3_rvs_cnn.rvs_cnn", True, args, work / f"o{r}.json")
            )
            print(f"round {r + 1} of {args.rounds} done", file=sys.stderr, flush=True)
    finally:
        service.stop()
    report(runs)


def report(runs: dict[str, list[dict]]) -> None:
    keys = [k for k in runs["dachs"][0] if runs["dachs"][0][k].get("median_s") is not None]
    print(f"{'query':22s} {'DaCHS s':>18s} {'ours s':>18s} {'ours/DaCHS':>11s} {'bytes/row':>17s}")
    for key in keys:
        d = [r[key]["median_s"] for r in runs["dachs"] if r.get(key, {}).get("median_s")]
        o = [r[key]["median_s"] for r in runs["ours"] if r.get(key, {}).get("median_s")]
        if not d or not o:
            print(f"{key:22s} failed on one side")
            continue
        spread = lambda xs: f"{min(xs):.3f}–{max(xs):.3f}"  # noqa: E731
        size = ""
        if key.startswith("full/"):
            db, ob = runs["dachs"][0][key]["bytes"], runs["ours"][0][key]["bytes"]
            rows = runs["ours"][0][key]["rows"] or 1_000_000
            size = f"{db / rows:6.1f} / {ob / rows:6.1f}"
        ratio = statistics.median(o) / statistics.median(d)
        print(f"{key:22s} {spread(d):>18s} {spread(o):>18s} {ratio:11.2f} {size:>17s}")
    print(
        f"(medians per round; {time.strftime('%Y-%m-%d %H:%M')} UTC, load {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
