"""DR3 size end to end (issue 25): a synthetic sky in the real bulk formats, ingested, the paper's
7 × 4 ensemble trained (few epochs), every star labelled and flagged, published, exported, and
DataLink asked for a random star's spectrum; per stage: wall and CPU time, rows/s, the peak
memory of each process and the disk used.

    .venv/bin/python bench/rehearsal.py [--stars 1000000] [--epochs 2] [--workers 1]
    .venv/bin/python bench/rehearsal.py --stars 1000000 --relabel --kill   # measure again
    .venv/bin/python bench/rehearsal.py --until ingest      # the sky ingested; the rest later

``--relabel`` trains, labels and publishes a new version over the sky already ingested (the
published one serves meanwhile); ``--kill`` SIGKILLs the workers two chunks into the labelling
and resumes the run with ``pipeline cancel`` and ``pipeline resume``, then checks one label row
per star, no finished row rewritten and the old version served while the workers were down.

Needs the test services (``python3 scripts/services.py start test``); its tasks go through a
Redis database of their own, so a test run beside it does not take them. Everything lives
under ``var/rehearsal/<stars>-<seed>/`` and in the database ``rvscnn_rehearsal_<stars>``; run
it again to resume: finished stages print the
figures they recorded (``state.json``), generation and ingest are idempotent, and an unfinished
pipeline run is resumed (``manage.py pipeline resume``) rather than started again. Peak memory:
``wait4`` for the stages that are one child process; for the Celery workers, the high-water mark
(``VmHWM``) of every process in their trees, sampled each second.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PRODUCTS = [  # (manage.py ingest product, file name, extra arguments)
    ("gaia-source", "GaiaSource_synthetic.csv.gz", []),
    ("astrophysical-parameters", "AstrophysicalParameters_synthetic.csv.gz", []),
    ("xp-continuous", "XpContinuousMeanSpectrum_synthetic.csv.gz", []),
    ("rvs-spectra", "RvsMeanSpectrum_synthetic.csv.gz", []),
    ("apogee", "allStar-dr17-synthetic.fits", ["--skip-bad-rows"]),
]
#: disk per star: bulk files (~19 kB, the RVS CSV most of it), the spectrum store (~10 kB),
#: PostgreSQL rows and indexes (~4 kB), exports (~1 kB); from the 20 000- and 100 000-star runs
BYTES_PER_STAR = 36_000
LABEL_STAGES = ("pipeline (7 x 4 members)", "exports (csv, fits, parquet)", "datalink spectrum")
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    """One stage's printout."""

    wall: float
    cpu: float
    rows: int = 0
    peak_mib: dict[str, float] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)

    def line(self, name: str) -> str:
        rate = f"{self.rows / self.wall:10,.0f}" if self.rows and self.wall else " " * 10
        peaks = ", ".join(f"{k} {v:,.0f}" for k, v in self.peak_mib.items())
        extra = "  ".join(f"{k} {v:,.4g}" for k, v in self.extra.items())
        return (
            f"{name:32s} {self.wall:9.1f} {self.cpu:9.1f} {self.rows:11,d} {rate}  "
            f"peak MiB: {peaks}  {extra}".rstrip()
        )


class Rehearsal:
    def __init__(self, stars: int, seed: int, apogee_fraction: float, redis_db: int) -> None:
        self.stars, self.seed, self.apogee_fraction = stars, seed, apogee_fraction
        self.home = REPO / "var" / "rehearsal" / f"{stars}-{seed}"
        self.home.mkdir(parents=True, exist_ok=True)
        self.state_file = self.home / "state.json"
        self.state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        self.env = {
            **os.environ,
            "RVS_INSTANCE": "test",
            "RVS_DB_NAME": f"rvscnn_rehearsal_{stars}",
            "RVS_SPECTRUM_STORE_URL": str(self.home / "spectra.zarr"),
            "RVS_MODELS_DIR": str(self.home / "models"),
            "RVS_RUNS_DIR": str(self.home / "runs"),
            "DJANGO_SETTINGS_MODULE": "archive.settings",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        # a Redis database of its own: a test run's workers on the same server must not take
        # the rehearsal's tasks (they would run them against the test database)
        self.env["RVS_REDIS_URL"] = redis_url().rsplit("/", 1)[0] + f"/{redis_db}"

    def relabel(self) -> None:
        """Forget the labelling and what follows it, so that the next pass trains, labels and
        publishes a new version beside the one published now (which serves meanwhile)."""
        if "relabel_after" in self.state and not self.done(LABEL_STAGES[0]):
            return  # asked again before the new run finished: resume that one
        for stage in LABEL_STAGES:
            self.state.pop(stage, None)
        latest = self.latest_run()
        self.state["relabel_after"] = latest and latest["id"]
        self.save()

    # --- bookkeeping -------------------------------------------------------------------
    def done(self, stage: str) -> Figures | None:
        if stage in self.state:
            return Figures(**self.state[stage])
        return None

    def save(self) -> None:
        self.state_file.write_text(json.dumps(self.state, indent=1))

    def record(self, stage: str, figures: Figures) -> Figures:
        self.state[stage] = asdict(figures)
        self.save()
        return figures

    def child(self, args: list[str]) -> tuple[Figures, str]:
        """Run ``args`` (manage.py's when the first is not an executable); wall, CPU (user +
        system, children included) and peak RSS from wait4."""
        cmd = args if args[0] == sys.executable else [sys.executable, "manage.py", *args]
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(cmd[1:4])} failed:\n{out[-4000:]}")
        cpu = usage.ru_utime + usage.ru_stime
        return Figures(wall, cpu, peak_mib={"process": usage.ru_maxrss / 1024}), out

    def connect(self, dbname: str | None = None):
        """A psycopg connection as the archive's owner to ``dbname`` (the rehearsal's)."""
        import psycopg

        from bench.tap import params

        return psycopg.connect(
            **params(), dbname=dbname or self.env["RVS_DB_NAME"], autocommit=True
        )

    def sql(self, query: str, args: list | None = None) -> list[tuple]:
        with self.connect() as conn:
            cur = conn.execute(query, args)
            return cur.fetchall() if cur.description else []

    def published(self) -> str | None:
        rows = self.sql("SELECT name FROM model_version WHERE is_published")
        return rows[0][0] if rows else None

    def python(self, code: str) -> str:
        return self.child([sys.executable, "-c", f"import django; django.setup()\n{code}"])[1]

    # --- stages --------------------------------------------------------------------------
    def check_disk(self) -> None:
        need = BYTES_PER_STAR * self.stars - self.disk_used()
        free = shutil.disk_usage(self.home).free
        if need > 0.9 * free:
            raise SystemExit(
                f"the {self.stars:,}-star rehearsal needs ~{need / 1e9:.0f} GB more under "
                f"{self.home}; {free / 1e9:.0f} GB are free. Free space or pass --stars smaller."
            )

    def disk_used(self) -> int:
        files = sum(p.stat().st_size for p in self.home.rglob("*") if p.is_file())
        return files + self.database_bytes()

    def database_bytes(self) -> int:
        with self.connect("postgres") as conn:
            name = self.env["RVS_DB_NAME"]
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                return conn.execute("SELECT pg_database_size(%s)", [name]).fetchone()[0]
            conn.execute(f"CREATE DATABASE {name}")
            return 0

    def generate(self) -> Figures:
        sky = self.home / "sky"
        args = ["make_synthetic", "--stars", str(self.stars), "--seed", str(self.seed)]
        args += ["--apogee-fraction", str(self.apogee_fraction)]
        figures, _ = self.child([*args, "--out", str(sky), "--no-progress"])
        figures.rows = self.stars
        return figures

    def ingest(self, product: str, name: str, extra: list[str]) -> Figures:
        args = ["ingest", product, str(self.home / "sky" / name), "--no-progress", *extra]
        figures, out = self.child(args)
        summary = next(line for line in out.splitlines() if " read," in line)
        figures.rows = int(summary.split(": ", 1)[1].split(" read")[0])
        return figures

    def latest_run(self) -> dict | None:
        out = self.python(
            "import json\nfrom archive.ops.models import PipelineRun as R\n"
            "r = R.objects.order_by('-pk').first()\n"
            "print(json.dumps(r and {'id': r.pk, 'status': r.status, 'timings': r.timings, "
            "'counts': r.counts, 'error': r.error, "
            "'version': r.model_version and r.model_version.name}))"
        )
        return json.loads(out.strip().splitlines()[-1])

    def pipeline(self, workers: int, epochs: int, kill: bool = False) -> Figures:
        before = self.latest_run()
        procs, sampler = self.start_workers(workers), Sampler()
        sampler.watch(procs)
        options = ["--splits=7", "--members=4", f"--epochs={epochs}"]
        options += [f"--patience={epochs}", "--publish"]
        fresh = before is None or before["id"] == self.state.get("relabel_after")
        start = time.perf_counter()
        try:
            if kill and "killed" not in self.state:
                if fresh:
                    figures, _ = self.child(["pipeline", "run", *options])
                elif before["status"] != "succeeded":
                    figures, _ = self.child(["pipeline", "resume", str(before["id"])])
                procs = self.kill_in_labelling(self.latest_run()["id"], procs, sampler, workers)
                figures.wall = time.perf_counter() - start
            elif fresh:
                figures, _ = self.child(["pipeline", "run", *options, "--wait"])
            elif before["status"] != "succeeded":  # stopped midway: carry on where it was
                figures, _ = self.child(["pipeline", "resume", str(before["id"]), "--wait"])
            else:
                figures = Figures(0.0, 0.0)
        finally:
            sampler.stop()
            self.stop_workers(procs)
        run = self.latest_run()
        if run is None or run["status"] != "succeeded":
            raise SystemExit(f"pipeline run: {run}")
        self.state["version"] = run["version"]
        label = run["counts"].get("label_seconds", {})
        stars = max(label.get("stars", 0), 1)
        timings = {k: v for k, v in run["timings"].items() if not k.endswith("_from")}
        figures.wall = figures.wall or sum(timings.values())
        figures.cpu += sampler.cpu
        figures.rows = run["counts"].get("catalogue", 0)
        figures.peak_mib = {**figures.peak_mib, **sampler.peaks()}
        serial, ensemble = label.get("serial", 0.0), max(label.get("ensemble", 0.0), 1e-9)
        figures.extra = {
            **{f"{k}_s": v for k, v in timings.items()},
            "label_ms_per_star": 1e3 * serial / stars,
            "ensemble_ms_per_star": 1e3 * ensemble / stars,
            "label_over_ensemble": serial / ensemble,
            "tsne_stars_per_s": stars / max(label.get("tsne", 0.0), 1e-9),
            **self.state.get("killed", {}),
        }
        return figures

    def kill_in_labelling(
        self, run_id: int, procs: list[subprocess.Popen], sampler: Sampler, workers: int
    ) -> list[subprocess.Popen]:
        """SIGKILL the workers two chunks into the labelling, then ``pipeline cancel`` and
        ``pipeline resume``: checks that the published version served throughout and that the
        resumed run redid no finished chunk and left one label row per star (issue 25.5)."""
        done = 0
        while done < 2:
            time.sleep(5)
            stage, done, phase = self.sql(
                "SELECT r.stage, coalesce((r.counts->>'chunks_done')::int, 0), j.phase "
                "FROM pipeline_run r JOIN job j ON j.id = r.job_ptr_id WHERE j.id = %s",
                [run_id],
            )[0]
            if phase in ("COMPLETED", "ERROR", "ABORTED"):
                raise SystemExit(f"run {run_id} ended ({phase}) before the kill")
            done = done if stage == "predict" else 0
        published = self.published()
        for p in procs:
            os.killpg(p.pid, signal.SIGKILL)
        for p in procs:
            p.wait()
        # the label rows finished before the kill, with the transaction that wrote them: a
        # resume that redid a finished chunk would rewrite them (upserts) under a new xmin
        self.sql("DROP TABLE IF EXISTS rehearsal_before_kill")
        self.sql(
            "CREATE TABLE rehearsal_before_kill AS SELECT l.source_id, l.xmin::text AS x "
            "FROM cnn_label l JOIN pipeline_run r ON r.model_version_id = l.model_version_id "
            "WHERE r.job_ptr_id = %s",
            [run_id],
        )
        before = self.sql("SELECT count(*) FROM rehearsal_before_kill")[0][0]
        served = self.sql("SELECT count(*) FROM gaiadr3_rvs_cnn.rvs_cnn")[0][0]
        published_while_down = self.published()
        # cancelled before new workers start, so that they take no chunk of the old attempt
        self.child(["pipeline", "cancel", str(run_id)])
        procs = self.start_workers(workers)
        sampler.add(procs)
        self.child(["pipeline", "resume", str(run_id), "--wait"])
        version, catalogue = self.sql(
            "SELECT r.model_version_id, (r.counts->>'catalogue')::bigint FROM pipeline_run r "
            "WHERE r.job_ptr_id = %s",
            [run_id],
        )[0]
        rows, distinct = self.sql(
            "SELECT count(*), count(DISTINCT source_id) FROM cnn_label WHERE model_version_id = %s",
            [version],
        )[0]
        redone = self.sql(
            "SELECT count(*) FROM rehearsal_before_kill b JOIN cnn_label l "
            "ON l.source_id = b.source_id AND l.model_version_id = %s WHERE l.xmin::text <> b.x",
            [version],
        )[0][0]
        if not rows == distinct == catalogue or redone or published_while_down != published:
            raise SystemExit(
                f"after the kill: {rows} label rows, {distinct} stars, catalogue {catalogue}, "
                f"{redone} finished rows redone, published {published} then "
                f"{published_while_down} while the workers were down"
            )
        self.state["killed"] = {
            "labelled_before_kill": before,
            "rows_served_while_down": served,
            "label_rows": rows,
            "distinct_stars": distinct,
            "rows_redone": redone,
        }
        self.save()
        return procs

    def start_workers(self, n: int) -> list[subprocess.Popen]:
        """``n`` workers on the default queue (labelling, one process each) and one training
        worker of ``n`` processes, each process replaced after one task (tasks/celery.py)."""
        threads = max(1, (os.cpu_count() or 1) // n)
        log = self.home / "workers.log"
        roles = [("label", i, ["--concurrency=1"]) for i in range(n)]
        one_task_each = ["--queues=training", "--max-tasks-per-child=1"]
        roles.append(("train", 0, [f"--concurrency={n}", *one_task_each]))
        procs = []
        for role, i, options in roles:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    *"-m celery -A tasks worker --pool=prefork".split(),
                    *options,
                    f"--hostname=rehearsal-{role}{i}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel=WARNING",
                    f"--logfile={log}",
                ],
                cwd=REPO,
                env={**self.env, "RVS_WORKER_THREADS": str(threads)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            proc.role = role
            procs.append(proc)
        return procs

    @staticmethod
    def stop_workers(procs: list[subprocess.Popen]) -> None:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=120)

    def export(self) -> Figures:
        figures, out = self.child(["export", self.state["version"], "--here"])
        figures.rows = int(out.strip().splitlines()[-1].split(" rows")[0])
        return figures

    def datalink(self) -> Figures:
        """A random labelled star's links, then its RVS spectrum, through the Django stack."""
        code = f"""
import html, random, re, time
from django.test import Client
from django.db import connection
with connection.cursor() as cur:
    cur.execute("SELECT source_id FROM rvs_spectrum ORDER BY source_id OFFSET %s LIMIT 1",
                [random.Random({self.seed}).randrange({self.stars} // 2)])
    sid = cur.fetchone()[0]
c = Client(SERVER_NAME="127.0.0.1")
t = time.perf_counter()
links = c.get("/datalink/links", {{"ID": str(sid)}}).content.decode()
url = html.unescape(re.search(r"<TD>http://127.0.0.1(/datalink/rvs/[^<]*)</TD>", links)[1])
r = c.get(url)
body = b"".join(r.streaming_content) if r.streaming else r.content
assert r.status_code == 200 and body, (r.status_code, url)
print(time.perf_counter() - t, len(body))
"""
        figures, out = self.child([sys.executable, "-c", f"import django; django.setup()\n{code}"])
        seconds, size = out.strip().splitlines()[-1].split()
        figures.rows, figures.extra = 1, {"request_s": float(seconds), "bytes": int(size)}
        return figures


def redis_url() -> str:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("RVS_INSTANCE", "test")
    from archive import settings

    return settings.CELERY_BROKER_URL


class Sampler:
    """The peak RSS (VmHWM) and CPU time of process trees, read from /proc each second."""

    def __init__(self) -> None:
        self.roots: dict[int, str] = {}  # worker pid -> its role ("label", "train")
        self.hwm: dict[int, tuple[str, float]] = {}
        self.ticks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def watch(self, procs: list[subprocess.Popen]) -> None:
        self.add(procs)
        self._thread.start()

    def add(self, procs: list[subprocess.Popen]) -> None:
        self.roots |= {p.pid: getattr(p, "role", "worker") for p in procs}

    def stop(self) -> None:
        self._sample()
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self._sample()

    def _tree(self, pid: int) -> list[int]:
        out = [pid]
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                for child in task.read_text().split():
                    out += self._tree(int(child))
            except OSError:
                pass
        return out

    def _sample(self) -> None:
        for root, role in list(self.roots.items()):
            for i, pid in enumerate(self._tree(root)):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                # a process that has exited but is not yet reaped has no VmHWM line
                hwm = next(
                    (int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM")), 0
                )
                name = f"{role} worker {root}" if i == 0 else f"{role} pool {pid}"
                self.hwm[pid] = (name, max(hwm / 1024, self.hwm.get(pid, ("", 0))[1]))
                self.ticks[pid] = int(stat[11]) + int(stat[12])  # utime + stime

    @property
    def cpu(self) -> float:
        return sum(self.ticks.values()) / TICK

    def peaks(self) -> dict[str, float]:
        return dict(sorted(self.hwm.values(), key=lambda kv: -kv[1])[:4])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stars", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2, help="per member (few: 28 members)")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes")
    parser.add_argument(
        "--relabel",
        action="store_true",
        help="train, label and publish a new version over the ingested sky (to measure again "
        "after a change); a rehearsal stopped midway resumes with or without it",
    )
    parser.add_argument(
        "--kill",
        action="store_true",
        help="SIGKILL the workers two chunks into the labelling, then pipeline cancel and resume;"
        " checks one label row per star, no finished chunk redone, the old version served",
    )
    parser.add_argument(
        "--redis-db",
        type=int,
        default=7,
        help="Redis database of the rehearsal's Celery queue: two rehearsals at once need two",
    )
    parser.add_argument(
        "--apogee-fraction",
        type=float,
        default=0.05,
        help="share of the sky in the allStar file; 0.05 gives a training sample of the paper's"
        " size (44 780 of 999 670 stars) where the synthetic sky's 0.21 would give ~4x that",
    )
    parser.add_argument(
        "--until",
        choices=("generate", "ingest", "pipeline"),
        help="stop after this stage (after every ingest for 'ingest'); run again to go on",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    r = Rehearsal(args.stars, args.seed, args.apogee_fraction, args.redis_db)
    os.environ.update({k: r.env[k] for k in ("RVS_INSTANCE", "DJANGO_SETTINGS_MODULE")})
    r.check_disk()
    if args.relabel:
        r.relabel()
    stages = [("generate", r.generate), ("migrate", lambda: r.child(["migrate", "-v0"])[0])]
    stages += [(f"ingest {p}", lambda p=p, n=n, e=e: r.ingest(p, n, e)) for p, n, e in PRODUCTS]
    stages += list(
        zip(
            LABEL_STAGES,
            [lambda: r.pipeline(args.workers, args.epochs, args.kill), r.export, r.datalink],
            strict=True,
        )
    )
    if args.until:
        last = max(i for i, (name, _) in enumerate(stages) if name.startswith(args.until))
        stages = stages[: last + 1]
    print(f"{'stage':32s} {'wall s':>9s} {'CPU s':>9s} {'rows':>11s} {'rows/s':>10s}")
    total = 0.0
    for name, stage in stages:
        figures = r.done(name)
        if figures is None:
            figures = r.record(name, stage())
        total += figures.wall if name != "generate" else 0.0
        print(figures.line(name), flush=True)
    print(
        f"disk used: {r.disk_used() / 1e9:.1f} GB; the rehearsal except generation: {total:.0f} s"
    )


if __name__ == "__main__":
    main()
