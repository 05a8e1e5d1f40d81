"""The TAP service against PostgreSQL's own time: latency, downloads and a load run.

    .venv/bin/python bench/tap.py [--rows 1000000] [--reps 30] [--load-seconds 60]
                                  [--clients 32] [--skip-downloads]

Needs the test services (``python3 scripts/services.py start test``). Builds once, in the
database ``rvscnn_bench_tap`` (migrated like the real one), a published catalogue of --rows
stars spread uniformly over the sky; serves it with gunicorn as the demo does
(scripts/gunicorn.conf.py) and a Celery worker; then measures, each case interleaved with the
others (bench/timing.py):

- sync latency (median, p95) of a 1° cone, a TOP 10000 label-range query and a GROUP BY
  flag_boundary, over HTTP with a kept-alive client, and the bare PostgreSQL time of the same
  translated SQL run as the read-only role (rows fetched); the uncached translation time;
- an async job end to end (POST with PHASE=RUN, WAIT until it ends, fetch the result);
- --rows-row downloads per format: rows/s, first byte, and the serving process's peak RSS;
- a load run: --clients concurrent clients mixing the three sync queries for --load-seconds
  (throughput, p50/p95, errors).

Figures go to stdout and var/bench/tap-<db>.json; docs/benchmarks.md records them.

At DR4 size: ``--db rvscnn_bench_dr4 --prebuilt`` measures the 30M-row catalogue that
bench/dr4_build.py keeps (RVS_INSTANCE=bench), ``--formats csv,fits`` limits the downloads and
``--first-byte-only`` stops each one at its first byte.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("RVS_INSTANCE", "test")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive.settings")
DB = os.environ.get("RVS_BENCH_DB", "rvscnn_bench_tap")  # --db
VERSION = "bench-tap"
LABELS = ["teff", "logg", "m_h", "alpha_m", "fe_h"]


def params(role: str = "default") -> dict:
    from django.conf import settings

    db = settings.DATABASES[role]
    return {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"]}


def env() -> dict[str, str]:
    return {**os.environ, "RVS_DB_NAME": DB, "DJANGO_SETTINGS_MODULE": "archive.settings"}


def migrate(db: str) -> None:
    """Create the bench database ``db`` if it is missing, and migrate it like the real one."""
    import psycopg

    with psycopg.connect(**params(), dbname="postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone():
            conn.execute(f'CREATE DATABASE "{db}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env={**env(), "RVS_DB_NAME": db},
        check=True,
    )


def build(rows: int) -> None:
    """Migrate the bench database and fill it with ``rows`` published stars (kept)."""
    import psycopg

    migrate(DB)
    with psycopg.connect(**params(), dbname=DB, autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM cnn_label").fetchone()[0]
        if have == rows:
            return
        print(f"building {rows} stars in {DB} ...", file=sys.stderr)
        conn.execute("TRUNCATE gaia_source, model_version CASCADE")
        conn.execute(
            f"""INSERT INTO gaia_source (source_id, ra, dec, parallax, parallax_error,
              phot_g_mean_mag, phot_bp_mean_mag, phot_rp_mean_mag, ruwe,
              rvs_spec_sig_to_noise, phot_variable_flag, classlabel_espels)
            SELECT (4295806720 + i::bigint * 1000003), random() * 360,
              degrees(asin(2 * random() - 1)), random() * 5, 0.02 + random() * 0.05,
              8 + random() * 8, 8.5 + random() * 8, 7.5 + random() * 8, 0.8 + random() * 0.6,
              15 + random() * 200, 'NOT_AVAILABLE', ''
            FROM generate_series(1, {rows}) AS i"""
        )
        conn.execute(
            "INSERT INTO model_version (name, created_at, status, inputs, n_splits, n_members,"
            " config, path, data_hash, code_version, framework_versions, is_published)"
            f" VALUES ('{VERSION}', now(), 'ready', 'hybrid', 7, 4, '{{}}', '', '', '', '{{}}',"
            " false)"
        )
        errors = ", ".join(f"random() * 0.1 AS e_{k}, random() * 0.2 AS sigma_{k}" for k in LABELS)
        conn.execute(
            f"""INSERT INTO cnn_label (model_version_id, source_id, teff, logg, m_h, alpha_m,
              fe_h, e_teff, sigma_teff, e_logg, sigma_logg, e_m_h, sigma_m_h, e_alpha_m,
              sigma_alpha_m, e_fe_h, sigma_fe_h, flag_boundary)
            SELECT v.id, g.source_id, 3500 + random() * 3500, random() * 5,
              random() * 2.5 - 2, random() * 0.5, random() * 2.5 - 2, {errors},
              CASE WHEN random() < 0.6 THEN '00000000'
                   ELSE (floor(random() * 256))::int::bit(8)::text END
            FROM gaia_source g, model_version v WHERE v.name = '{VERSION}'"""
        )
        conn.execute(f"UPDATE model_version SET is_published = true WHERE name = '{VERSION}'")
        conn.execute("VACUUM ANALYZE gaia_source")
        conn.execute("VACUUM ANALYZE cnn_label")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """gunicorn and a Celery worker on the bench database."""

    def __init__(self) -> None:
        self.port = free_port()
        redis = os.environ.get("RVS_REDIS_URL") or self._redis()
        e = {**env(), "RVS_REDIS_URL": redis.rsplit("/", 1)[0] + "/10"}
        e["RVS_WEB_BIND"] = f"127.0.0.1:{self.port}"
        log = REPO / "var" / "bench"
        log.mkdir(parents=True, exist_ok=True)
        self.web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "scripts/gunicorn.conf.py"],
            cwd=REPO,
            env=e,
            stdout=open(log / "tap-gunicorn.log", "w"),  # noqa: SIM115 (the child keeps it)
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tasks",
                "worker",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=WARNING",
            ],
            cwd=REPO,
            env=e,
            stdout=open(log / "tap-worker.log", "w"),  # noqa: SIM115 (the child keeps it)
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}/tap"
        import requests

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/availability", timeout=5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        time.sleep(3)  # the worker

    @staticmethod
    def _redis() -> str:
        for line in (
            (REPO / "var" / os.environ["RVS_INSTANCE"] / "services.env").read_text().splitlines()
        ):
            if line.startswith("RVS_REDIS_URL="):
                return line.split("=", 1)[1]
        raise SystemExit("no test services: python3 scripts/services.py start test")

    def worker_pids(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.web.pid)], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]

    def _status_mb(self, key: str) -> float:
        values = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(key):
                    values.append(int(line.split()[1]) / 1024)
        return max(values, default=float("nan"))

    def peak_rss_mb(self) -> float:
        """The largest VmHWM (peak resident memory) of the gunicorn workers, in MB."""
        return self._status_mb("VmHWM:")

    def rss_mb(self) -> float:
        """The largest VmRSS (resident memory now) of the gunicorn workers, in MB."""
        return self._status_mb("VmRSS:")

    def reset_peak_rss(self) -> None:
        """Start the workers' VmHWM again from their RSS now (Linux: clear_refs 5), so that a
        download's peak is its own, not the largest of every request before it."""
        for pid in self.worker_pids():
            Path(f"/proc/{pid}/clear_refs").write_text("5")

    def stop(self) -> None:
        for p in (self.web, self.worker):
            os.killpg(p.pid, signal.SIGTERM)
        for p in (self.web, self.worker):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def queries(schema: str) -> dict[str, callable]:
    centres = [(random.uniform(0, 360), random.uniform(-60, 60)) for _ in range(50)]
    count = iter(range(10**9))

    def cone() -> str:
        ra, dec = centres[next(count) % len(centres)]
        return (
            f"SELECT source_id, ra, dec, teff, logg, m_h, flag_boundary FROM {schema}.rvs_cnn "
            f"WHERE 1 = CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', {ra:.4f}, {dec:.4f}, 1))"
        )

    return {
        "cone": cone,
        "labels": lambda: (
            f"SELECT TOP 10000 source_id, teff, logg, m_h, alpha_m FROM {schema}.rvs_cnn "
            "WHERE teff BETWEEN 4500 AND 5000 AND logg < 3.5"
        ),
        "group": lambda: (
            f"SELECT flag_boundary, COUNT(*) AS n FROM {schema}.rvs_cnn GROUP BY flag_boundary"
        ),
    }


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def latency(url: str, schema: str, reps: int) -> dict:
    import psycopg
    import requests

    from archive.tap.service import prepare

    session = requests.Session()
    reader = psycopg.connect(**params("reader"), dbname=DB, autocommit=True)
    cases = queries(schema)
    http: dict[str, list[float]] = {k: [] for k in cases}
    bare: dict[str, list[float]] = {k: [] for k in cases}
    trans: dict[str, list[float]] = {k: [] for k in cases}
    rows: dict[str, int] = {}
    for i in range(reps + 3):  # three warm-up rounds
        for name, make in cases.items():
            adql = make()
            t0 = time.perf_counter()
            sql = prepare("ADQL", adql).sql
            t_trans = time.perf_counter() - t0
            t0 = time.perf_counter()
            with reader.cursor() as cur:
                cur.execute(sql)
                rows[name] = len(cur.fetchall())
            t_bare = time.perf_counter() - t0
            t0 = time.perf_counter()
            r = session.post(f"{url}/sync", data={"LANG": "ADQL", "QUERY": adql})
            r.raise_for_status()
            _ = r.content
            t_http = time.perf_counter() - t0
            if i >= 3:
                http[name].append(t_http)
                bare[name].append(t_bare)
                trans[name].append(t_trans)
    out = {}
    for name in cases:
        out[name] = {
            "rows": rows[name],
            "http_median_ms": 1000 * statistics.median(http[name]),
            "http_p95_ms": 1000 * pct(http[name], 0.95),
            "postgres_median_ms": 1000 * statistics.median(bare[name]),
            "added_median_ms": 1000
            * (statistics.median(http[name]) - statistics.median(bare[name])),
            "translation_median_ms": 1000 * statistics.median(trans[name]),
        }
    reader.close()
    return out


def async_job(url: str, schema: str, reps: int) -> dict:
    import requests

    session = requests.Session()
    make = queries(schema)["cone"]
    times = []
    for i in range(reps + 1):
        t0 = time.perf_counter()
        r = session.post(
            f"{url}/async",
            data={"LANG": "ADQL", "QUERY": make(), "PHASE": "RUN"},
            allow_redirects=False,
        )
        job = r.headers["Location"]
        while True:
            doc = session.get(job, params={"WAIT": "10", "PHASE": "QUEUED"}).text
            if "<uws:phase>EXECUTING" in doc:
                doc = session.get(job, params={"WAIT": "10", "PHASE": "EXECUTING"}).text
            if "COMPLETED" in doc or "ERROR" in doc:
                break
        session.get(f"{job}/results/result").raise_for_status()
        if i:
            times.append(time.perf_counter() - t0)
        session.delete(job)
    return {"median_s": statistics.median(times), "p95_s": pct(times, 0.95)}


def bench_token() -> str:
    """The API token of a registered bench user (made once): registered users' MAXREC cap is
    50M rows, an anonymous one's 2M (archive/tap/limits.py)."""
    from django.contrib.auth import get_user_model

    from archive.accounts.models import ApiToken

    user, _ = get_user_model().objects.get_or_create(username="bench-downloads")
    return ApiToken.issue(user)


def downloads(
    service: Service,
    schema: str,
    rows: int,
    formats: list[str],
    first_byte_only: bool,
    token: str | None = None,
) -> dict:
    """Each format's download of the whole published table (as a registered user when
    ``token`` is given, else capped at the anonymous MAXREC)."""
    import requests

    from archive.tap.limits import ANONYMOUS

    if token is None:
        rows = min(rows, ANONYMOUS.maxrec_hard)
    headers = {"Authorization": f"Token {token}"} if token else {}
    out = {"rows": rows}
    requests.post(f"{service.url}/sync", data={"LANG": "ADQL", "QUERY": "SELECT 1 AS one"})
    out["rss_before_mb"] = service.rss_mb()  # the serving process, warm, before any download
    print(f"  worker RSS before the downloads: {out['rss_before_mb']:.0f} MB", file=sys.stderr)
    for fmt in formats:
        service.reset_peak_rss()
        t0 = time.perf_counter()
        r = requests.post(
            f"{service.url}/sync",
            data={
                "LANG": "ADQL",
                "QUERY": f"SELECT * FROM {schema}.rvs_cnn",
                "MAXREC": str(rows),
                "RESPONSEFORMAT": fmt,
            },
            headers=headers,
            stream=True,
        )
        first, size = None, 0
        for block in r.iter_content(1 << 20):
            if first is None:
                first = time.perf_counter() - t0
            size += len(block)
            if first_byte_only:
                break
        total = time.perf_counter() - t0
        r.close()
        if first_byte_only:
            out[fmt] = {"first_byte_s": first}
            print(f"  {fmt:11s} first byte {first:.3f} s", file=sys.stderr)
            continue
        out[fmt] = {
            "rows_per_s": rows / total,
            "mb_per_s": size / total / 1e6,
            "first_byte_s": first,
            "seconds": total,
            "peak_rss_mb": service.peak_rss_mb(),
        }
        print(
            f"  {fmt:11s} {rows / total:>10,.0f} rows/s  first byte {first:.3f} s  "
            f"peak RSS {out[fmt]['peak_rss_mb']:.0f} MB",
            file=sys.stderr,
        )
    return out


def load(url: str, schema: str, clients: int, seconds: float) -> dict:
    import requests

    cases = list(queries(schema).items())
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        session = requests.Session()
        while time.monotonic() < stop:
            _, make = rng.choice(cases)
            t0 = time.perf_counter()
            try:
                r = session.post(f"{url}/sync", data={"LANG": "ADQL", "QUERY": make()}, timeout=60)
                ok = r.status_code == 200 and b'value="OK"' in r.content
            except requests.RequestException:
                ok = False
            with lock:
                lat.append(time.perf_counter() - t0)
                errors[0] += not ok

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {
        "clients": clients,
        "seconds": elapsed,
        "requests": len(lat),
        "per_second": len(lat) / elapsed,
        "p50_ms": 1000 * pct(lat, 0.5),
        "p95_ms": 1000 * pct(lat, 0.95),
        "errors": errors[0],
    }


def set_db(name: str) -> None:
    """The bench database that env(), build() and the Service use."""
    global DB
    DB = name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--load-seconds", type=float, default=60)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--skip-downloads", action="store_true")
    ap.add_argument("--only-downloads", action="store_true", help="no latency, async or load")
    ap.add_argument("--db", default=DB, help="the bench database")
    ap.add_argument("--prebuilt", action="store_true", help="serve --db as it is (no build)")
    ap.add_argument("--formats", default="votable,votable/td,csv,tsv,fits,parquet,ecsv")
    ap.add_argument("--first-byte-only", action="store_true")
    ap.add_argument(
        "--signed-in", action="store_true", help="download as a registered user (no 2M-row cap)"
    )
    args = ap.parse_args()
    set_db(args.db)

    import django

    django.setup()
    from django.conf import settings
    from django.db import connections

    connections["reader"].settings_dict["NAME"] = DB
    connections["default"].settings_dict["NAME"] = DB
    schema = settings.PUBLISHED_SCHEMA
    if args.prebuilt:
        import psycopg

        with psycopg.connect(**params(), dbname=DB) as conn:
            args.rows = conn.execute(
                f"SELECT count(*) FROM {schema}.rvs_cnn"  # the published rows
            ).fetchone()[0]
    else:
        build(args.rows)
    service = Service()
    try:
        result = {"rows": args.rows}
        if not args.only_downloads:
            result["latency"] = latency(service.url, schema, args.reps)
            print(json.dumps(result["latency"], indent=1), file=sys.stderr)
            result["async"] = async_job(service.url, schema, max(5, args.reps // 3))
            print(json.dumps(result["async"]), file=sys.stderr)
        if not args.skip_downloads:
            token = bench_token() if args.signed_in else None
            result["downloads"] = downloads(
                service, schema, args.rows, args.formats.split(","), args.first_byte_only, token
            )
        if not args.only_downloads:
            result["load"] = load(service.url, schema, args.clients, args.load_seconds)
    finally:
        service.stop()
    print(json.dumps(result, indent=1))
    out = REPO / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"tap-{DB}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
