"""A hot standby stopped in the middle of a TAP load: which requests fail.

    RVS_PORT_OFFSET=... .venv/bin/python bench/replicas.py [--clients 32] [--seconds 20]

Needs the test services with a replica (``python3 scripts/services.py start test``); migrates
the instance's own database (``rvscnn``) if needed. --clients threads send TAP sync queries
through Django's WSGI handler (the middleware, router and reader connections the served site
uses) for --seconds; a third of the way in, replica 0 is stopped (``pg_ctl stop -m fast``: its
sessions end), and it is started again at two thirds. Printed: requests, failures, the requests
in flight when the stop began (the most that may fail), and failures of requests that began
after the stop ended (target 0).
"""

from __future__ import annotations

import argparse
import os
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
QUERY = "SELECT TOP 20 table_name, column_name, datatype FROM TAP_SCHEMA.columns"


def services(*args: str) -> float:
    started = time.monotonic()
    script = REPO / "scripts" / "services.py"
    subprocess.run([sys.executable, str(script), *args], check=True, capture_output=True)
    return started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    if not settings.RVS_DB_REPLICAS:
        print("no replica configured: python3 scripts/services.py start test", file=sys.stderr)
        return 2
    call_command("migrate", verbosity=0)
    time.sleep(1)  # the standby replays the migration

    done: list[tuple[float, float, bool]] = []  # (start, end, ok)
    lock = threading.Lock()
    stop_at = time.monotonic() + args.seconds

    def client() -> None:
        from archive.tap.service import close_reader_connections  # noqa: F401 - loads the app

        http = Client(SERVER_NAME="127.0.0.1")
        params = {"REQUEST": "doQuery", "LANG": "ADQL", "FORMAT": "csv", "QUERY": QUERY}
        while time.monotonic() < stop_at:
            began = time.monotonic()
            try:
                response = http.get("/tap/sync", params)
                ok = response.status_code == 200 and b"table_name" in b"".join(
                    response.streaming_content if response.streaming else [response.content]
                )
            except Exception:  # noqa: BLE001 - a failed request is what is counted
                ok = False
            with lock:
                done.append((began, time.monotonic(), ok))

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(args.seconds / 3)
    stop_began = services("stop", "test", "--replica", "0")
    stop_ended = time.monotonic()
    time.sleep(max(0.0, t0 + 2 * args.seconds / 3 - time.monotonic()))
    services("start", "test", "--replica", "0")
    for t in threads:
        t.join()

    failed = [r for r in done if not r[2]]
    in_flight = [r for r in done if r[0] <= stop_ended and r[1] >= stop_began]
    late = [r for r in failed if r[0] > stop_ended]
    latencies = sorted(r[1] - r[0] for r in done if r[2])
    print(
        f"clients {args.clients}, {args.seconds:.0f} s, replica 0 stopped at "
        f"{stop_began - t0:.1f} s for {t0 + 2 * args.seconds / 3 - stop_began:.1f} s"
    )
    print(f"requests {len(done)} ({len(done) / args.seconds:.0f}/s), failed {len(failed)}")
    print(f"in flight while the replica stopped: {len(in_flight)} (the most that may fail)")
    print(f"failed that began after the stop: {len(late)} (target 0)")
    if latencies:
        p95 = latencies[int(0.95 * (len(latencies) - 1))]
        print(f"latency p50 {statistics.median(latencies) * 1e3:.0f} ms, p95 {p95 * 1e3:.0f} ms")
    return 0 if len(failed) <= len(in_flight) and not late else 1


if __name__ == "__main__":
    sys.exit(main())
