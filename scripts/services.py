#!/usr/bin/env python3
"""Install, start and stop the private PostgreSQL and Redis of RVS-CNN Archive.

Standard library only: it runs with the machine's python3 before the virtual environment
exists. Instances and packages are described in services.toml beside this file.

    python3 scripts/services.py install [--test]   # apt-get what is missing, fix pg_sphere
    python3 scripts/services.py start demo|test [--replicas N]  # idempotent
    python3 scripts/services.py stop [demo|test|all]   # the instance's Celery worker first
    python3 scripts/services.py status [demo|test|all]
    python3 scripts/services.py start|stop test --replica 0    # one hot standby alone

Each instance lives in var/<name>/: a PostgreSQL cluster listening on 127.0.0.1 only (no Unix
socket, so it never meets a system cluster), its hot standbys (var/<name>/pg-replica-<i>/,
streaming replication from a physical slot, on the ports after the primary's), a Redis with a
password, generated secrets (var/<name>/secrets.json, mode 0600) and services.env, which Django
settings read.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((Path(__file__).with_name("services.toml")).read_text())
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_EXTENSION_DIR = Path("/usr/share/postgresql/15/extension")
REDIS_SERVER = "/usr/bin/redis-server"
IS_ROOT = os.geteuid() == 0
#: hot standbys take the ports after the primary's; the next instance's primary is 10 further
MAX_REPLICAS = 9
SECRET_KEYS = ("superuser", "owner", "reader", "replicator", "redis", "django_secret_key")


class ServiceError(RuntimeError):
    """A setup step failed; the message says what to do."""


@dataclass(frozen=True)
class Instance:
    name: str
    pg_port: int
    redis_port: int
    durable: bool
    replicas: int = 0

    @property
    def var(self) -> Path:
        return Path(os.environ.get("RVS_VAR_DIR", ROOT / "var")).resolve() / self.name

    @property
    def pg_data(self) -> Path:
        return self.var / "pg" / "data"

    @property
    def redis_dir(self) -> Path:
        return self.var / "redis"

    @property
    def env_file(self) -> Path:
        return self.var / "services.env"

    def replica(self, index: int) -> Replica:
        return Replica(self, index)

    def replica_dirs(self) -> list[Replica]:
        """The standbys that exist on disk, configured or not (stop and status see them all)."""
        found = {int(p.name.rsplit("-", 1)[1]) for p in self.var.glob("pg-replica-*")}
        return [self.replica(i) for i in sorted(found | set(range(self.replicas)))]


@dataclass(frozen=True)
class Replica:
    """A hot standby of an instance's PostgreSQL: its own cluster, port and replication slot."""

    primary: Instance
    index: int

    @property
    def name(self) -> str:
        return f"{self.primary.name} replica {self.index}"

    @property
    def slot(self) -> str:
        return f"rvscnn_replica_{self.index}"

    @property
    def pg_port(self) -> int:
        return self.primary.pg_port + 1 + self.index

    @property
    def pg_data(self) -> Path:
        return self.primary.var / f"pg-replica-{self.index}" / "data"

    @property
    def durable(self) -> bool:
        return self.primary.durable


def instances() -> dict[str, Instance]:
    # RVS_PORT_OFFSET moves every port, so that several checkouts on one machine (git
    # worktrees, each with its own var/) can run their own instances side by side.
    offset = int(os.environ.get("RVS_PORT_OFFSET", "0"))
    return {
        name: Instance(
            name=name,
            pg_port=spec["pg_port"] + offset,
            redis_port=spec["redis_port"] + offset,
            durable=spec["durable"],
            replicas=spec.get("replicas", 0),
        )
        for name, spec in CONFIG["instances"].items()
    }


def ensure_port_free(inst: Instance | Replica, service: str, port: int) -> None:
    """Fail with a clear message when another process holds the port this instance needs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # as the servers do: a recently closed port in TIME_WAIT is free, a listener is not
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise ServiceError(
                f"{inst.name}: {service} cannot start, 127.0.0.1:{port} is taken by another "
                "process. Another checkout's instance of the same name? Run "
                "`python3 scripts/services.py stop all` there, or change the port in "
                "scripts/services.toml."
            ) from exc


def log(message: str) -> None:
    print(f"[services] {message}", flush=True)


def run(
    cmd: list[str], *, as_pg: bool = False, check: bool = True, **kw
) -> subprocess.CompletedProcess:
    # PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user.
    if as_pg and IS_ROOT:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=check, text=True, **kw)


# --- packages -------------------------------------------------------------------------------


def missing_packages(packages: list[str]) -> list[str]:
    missing = []
    for pkg in packages:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True
        )
        if "install ok installed" not in out.stdout:
            missing.append(pkg)
    return missing


def install(with_test: bool) -> None:
    packages = list(CONFIG["packages"]["apt"])
    if with_test:
        packages += CONFIG["packages"]["apt_test"]
    missing = missing_packages(packages)
    if missing:
        cmd = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
        if not IS_ROOT:
            raise ServiceError(
                f"missing Debian packages; run as root:\n  apt-get update && {' '.join(cmd)}"
            )
        log(f"installing {' '.join(missing)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
        subprocess.run(cmd, check=True, env=env)
    else:
        log("Debian packages present")
    fix_pgsphere()


# --- the pg_sphere 1.2.0 install script ----------------------------------------------------
#
# Debian 12's postgresql-15-pgsphere (1.1.1+2021-11-10) declares two deprecated operators
# `@ (bigint, smoc)` and `@ (spoint, smoc)` with COMMUTATOR '@>' and NEGATOR '!<@'. Those
# operators already have `<@` as their commutator/negator partner, and PostgreSQL >= 15.20
# refuses the second claim: "commutator operator @> is already the commutator of operator <@",
# so CREATE EXTENSION fails. Upstream pgsphere dropped these `@` forms. We keep the operators
# (old queries still parse) and remove only the two optimiser hints from those two blocks.
# See docs/operations.md.

_PGSPHERE_BAD_BLOCK = re.compile(
    r"(CREATE OPERATOR @ \(\s*LEFTARG\s*=\s*(?:bigint|spoint),\s*RIGHTARG\s*=\s*smoc,"
    r"\s*PROCEDURE\s*=\s*\w+,)"
    r"\s*COMMUTATOR\s*=\s*'@>',\s*NEGATOR\s*=\s*'!<@',",
)


def patch_pgsphere_sql(sql: str) -> tuple[str, int]:
    """Return the script without the conflicting hints, and how many blocks changed."""
    return _PGSPHERE_BAD_BLOCK.subn(r"\1", sql)


def fix_pgsphere() -> None:
    script = PG_EXTENSION_DIR / "pg_sphere--1.2.0.sql"
    if not script.exists():
        return
    fixed, n = patch_pgsphere_sql(script.read_text())
    if n == 0:
        log("pg_sphere install script: nothing to fix")
        return
    if not IS_ROOT:
        raise ServiceError(
            f"{script} declares operators PostgreSQL 15.20+ rejects; run as root:\n"
            f"  python3 {Path(__file__).relative_to(ROOT)} install"
        )
    backup = script.with_suffix(".sql.orig")
    if not backup.exists():
        shutil.copy2(script, backup)
    script.write_text(fixed)
    log(f"pg_sphere install script: removed COMMUTATOR/NEGATOR from {n} deprecated @ operators")


# --- secrets and environment ---------------------------------------------------------------


#: Django's check --deploy (security.W009) asks for at least 50 characters
SECRET_KEY_LENGTH = 50


def django_secret_key() -> str:
    return secrets.token_urlsafe(48)  # 64 characters


def load_secrets(inst: Instance) -> dict[str, str]:
    """The instance's passwords and keys, generated on its first start; a Django secret key
    shorter than Django asks for (older instances had 32 characters) is replaced, which logs
    out whoever was logged in and voids password reset links, and nothing else."""
    path = inst.var / "secrets.json"
    values = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    # an instance made before a secret existed (the replicator's) gets it added, others kept
    missing = [key for key in SECRET_KEYS if key not in values and key != "django_secret_key"]
    if missing:
        values.update({key: secrets.token_urlsafe(24) for key in missing})
        changed = True
    if len(values.get("django_secret_key", "")) < SECRET_KEY_LENGTH:
        if "django_secret_key" in values:
            log(f"{inst.name}: a new DJANGO_SECRET_KEY ({SECRET_KEY_LENGTH}+ characters)")
        values["django_secret_key"] = django_secret_key()
        changed = True
    if changed:
        inst.var.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(values, indent=2))
    return values


def write_env(inst: Instance, sec: dict[str, str]) -> None:
    db = CONFIG["database"]
    lines = {
        "RVS_DB_HOST": "127.0.0.1",
        "RVS_DB_PORT": str(inst.pg_port),
        "RVS_DB_NAME": db["name"],
        "RVS_DB_USER": db["owner"],
        "RVS_DB_PASSWORD": sec["owner"],
        "RVS_DB_READER_USER": db["reader"],
        "RVS_DB_READER_PASSWORD": sec["reader"],
        # hot standbys serving reads (archive/replicas.py); empty: the primary serves all
        "RVS_DB_REPLICAS": ",".join(f"127.0.0.1:{r.pg_port}" for r in configured_replicas(inst)),
        "RVS_REDIS_URL": f"redis://:{sec['redis']}@127.0.0.1:{inst.redis_port}/0",
        "DJANGO_SECRET_KEY": sec["django_secret_key"],
    }
    inst.env_file.touch(mode=0o600)
    inst.env_file.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))


# --- PostgreSQL ----------------------------------------------------------------------------


def configured_replicas(inst: Instance) -> list[Replica]:
    return [inst.replica(i) for i in range(inst.replicas)]


def pg_running(inst: Instance | Replica) -> bool:
    if not (inst.pg_data / "PG_VERSION").exists():
        return False
    return (
        run(
            [str(PG_BIN / "pg_ctl"), "status", "-D", str(inst.pg_data)],
            as_pg=True,
            check=False,
            capture_output=True,
        ).returncode
        == 0
    )


def pg_conf(inst: Instance | Replica) -> str:
    conf = [
        "listen_addresses = '127.0.0.1'",
        f"port = {inst.pg_port}",
        "unix_socket_directories = ''",
        "max_connections = 100",
        "shared_buffers = '256MB'",
        "work_mem = '32MB'",
        "maintenance_work_mem = '256MB'",
        "timezone = 'UTC'",
    ]
    if not inst.durable:
        conf += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
    # a standby's slot keeps the WAL it has not received, up to this much: a replica stopped
    # for long loses its slot (and is rebuilt) rather than filling the primary's disk
    conf += ["max_wal_senders = 12", "max_replication_slots = 12", "max_slot_wal_keep_size = '4GB'"]
    return "\n".join(conf) + "\n"


def replica_conf(rep: Replica, sec: dict[str, str]) -> str:
    conninfo = (
        f"host=127.0.0.1 port={rep.primary.pg_port} user={CONFIG['database']['replicator']} "
        f"password={sec['replicator']} application_name={rep.slot}"
    )
    return pg_conf(rep) + "\n".join(
        [
            f"primary_conninfo = '{conninfo}'",
            f"primary_slot_name = '{rep.slot}'",
            "hot_standby = on",
            # the primary keeps the rows a long TAP query on the standby still reads, so the
            # query is not cancelled by the replay of a vacuum
            "hot_standby_feedback = on",
            "",
        ]
    )


def init_pg(inst: Instance, sec: dict[str, str]) -> None:
    pg_dir = inst.pg_data.parent
    pg_dir.mkdir(parents=True, exist_ok=True)
    if IS_ROOT:
        shutil.chown(pg_dir, "postgres", "postgres")
        if run(["test", "-x", str(pg_dir)], as_pg=True, check=False).returncode != 0:
            raise ServiceError(
                f"user postgres cannot reach {pg_dir}; make its parent folders world-"
                "searchable (chmod o+x) or set RVS_VAR_DIR to a folder it can reach"
            )
    if not (inst.pg_data / "PG_VERSION").exists():
        log(f"{inst.name}: creating PostgreSQL cluster in {inst.pg_data}")
        pwfile = pg_dir / ".pwfile"
        pwfile.write_text(sec["superuser"] + "\n")
        if IS_ROOT:
            shutil.chown(pwfile, "postgres", "postgres")
        try:
            run(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(inst.pg_data),
                    "-U",
                    "postgres",
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=reject",
                    "--encoding=UTF8",
                    "--no-locale",
                ],
                as_pg=True,
                capture_output=True,
            )
        finally:
            pwfile.unlink()
        with open(inst.pg_data / "postgresql.conf", "a") as f:
            f.write("\ninclude_if_exists = 'rvscnn.conf'\n")
    # rewritten at every start so services.toml stays the one place ports are set
    conf = inst.pg_data / "rvscnn.conf"
    conf.write_text(pg_conf(inst))
    if IS_ROOT:
        shutil.chown(conf, "postgres", "postgres")


def start_pg(inst: Instance, sec: dict[str, str]) -> None:
    if pg_running(inst):
        log(f"{inst.name}: PostgreSQL already running on 127.0.0.1:{inst.pg_port}")
        return
    ensure_port_free(inst, "PostgreSQL", inst.pg_port)
    init_pg(inst, sec)
    pg_ctl_start(inst)


def pg_ctl_start(inst: Instance | Replica) -> None:
    logfile = inst.pg_data.parent / "postgresql.log"
    # a standby opens for reads only once it has replayed the WAL written since its last restart
    # point: seconds after stop_replica, but minutes after a crash on a busy primary
    wait_s = 600 if isinstance(inst, Replica) else 60
    if IS_ROOT and not logfile.exists():
        logfile.touch()
        shutil.chown(logfile, "postgres", "postgres")
    out = run(
        [
            str(PG_BIN / "pg_ctl"),
            "start",
            "-w",
            "-t",
            str(wait_s),
            "-D",
            str(inst.pg_data),
            "-l",
            str(logfile),
        ],
        as_pg=True,
        check=False,
        capture_output=True,
    )
    if out.returncode != 0:
        tail = logfile.read_text()[-2000:] if logfile.exists() else ""
        raise ServiceError(f"PostgreSQL did not start (port {inst.pg_port}):\n{out.stderr}{tail}")
    log(f"{inst.name}: PostgreSQL started on 127.0.0.1:{inst.pg_port}")


def psql(
    inst: Instance | Replica, sec: dict[str, str], dbname: str, sql: str, **variables: str
) -> str:
    cmd = [
        str(PG_BIN / "psql"),
        "-X",
        "-q",
        "-At",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        "127.0.0.1",
        "-p",
        str(inst.pg_port),
        "-U",
        "postgres",
        "-d",
        dbname,
    ]
    for key, value in variables.items():
        cmd += ["-v", f"{key}={value}"]
    env = {**os.environ, "PGPASSWORD": sec["superuser"]}
    out = subprocess.run(cmd, input=sql, text=True, capture_output=True, env=env)
    if out.returncode != 0:
        raise ServiceError(f"{inst.name}: psql on {dbname} failed:\n{out.stderr}")
    return out.stdout


SQL_DIR = Path(__file__).with_name("sql")


def provision(inst: Instance, sec: dict[str, str]) -> None:
    db = CONFIG["database"]
    names = {"owner": db["owner"], "reader": db["reader"], "db": db["name"]}
    psql(
        inst,
        sec,
        "postgres",
        (SQL_DIR / "roles.sql").read_text(),
        **names,
        replicator=db["replicator"],
        replicator_pw=sec["replicator"],
        owner_pw=sec["owner"],
        reader_pw=sec["reader"],
        reader_timeout=db["reader_statement_timeout"],
    )
    for dbname in ("template1", db["name"]):
        psql(inst, sec, dbname, (SQL_DIR / "database.sql").read_text(), **names)


def stop_pg(inst: Instance | Replica) -> None:
    if not pg_running(inst):
        return
    run(
        [str(PG_BIN / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(inst.pg_data)],
        as_pg=True,
        capture_output=True,
    )
    log(f"{inst.name}: PostgreSQL stopped")


# --- hot standbys --------------------------------------------------------------------------


def init_replica(rep: Replica, sec: dict[str, str]) -> None:
    """A new standby: a physical slot on the primary, then pg_basebackup from it."""
    pg_dir = rep.pg_data.parent
    pg_dir.mkdir(parents=True, exist_ok=True)
    if IS_ROOT:
        shutil.chown(pg_dir, "postgres", "postgres")
    if not (rep.pg_data / "PG_VERSION").exists():
        log(f"{rep.name}: base backup of the primary into {rep.pg_data}")
        # the slot is made first, idempotently: one left by a deleted standby is reused
        psql(
            rep.primary,
            sec,
            "postgres",
            "SELECT pg_create_physical_replication_slot(:'slot', true) "
            "WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = :'slot');",
            slot=rep.slot,
        )
        shutil.rmtree(rep.pg_data, ignore_errors=True)
        cmd = [
            str(PG_BIN / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(rep.primary.pg_port),
            "-U",
            CONFIG["database"]["replicator"],
            "-D",
            str(rep.pg_data),
            "-X",
            "stream",
            "-S",
            rep.slot,
            "-c",
            "fast",
        ]
        if IS_ROOT:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        env = {**os.environ, "PGPASSWORD": sec["replicator"]}
        out = subprocess.run(cmd, text=True, capture_output=True, env=env)
        if out.returncode != 0:
            shutil.rmtree(rep.pg_data, ignore_errors=True)
            raise ServiceError(f"{rep.name}: pg_basebackup failed:\n{out.stderr}")
        (rep.pg_data / "standby.signal").touch()
        # the primary's own log and pid file are not the standby's
        (rep.pg_data / "postmaster.opts").unlink(missing_ok=True)
    conf = rep.pg_data / "rvscnn.conf"
    conf.write_text(replica_conf(rep, sec))
    conf.chmod(0o600)  # it holds the replicator's password
    if IS_ROOT:
        for path in (conf, rep.pg_data / "standby.signal"):
            shutil.chown(path, "postgres", "postgres")


def start_replica(rep: Replica, sec: dict[str, str]) -> None:
    if rep.index >= MAX_REPLICAS:
        raise ServiceError(f"at most {MAX_REPLICAS} replicas per instance")
    if pg_running(rep):
        log(f"{rep.name}: PostgreSQL already running on 127.0.0.1:{rep.pg_port}")
        return
    if not pg_running(rep.primary):
        raise ServiceError(f"{rep.name}: the primary is not running; start {rep.primary.name}")
    ensure_port_free(rep, "PostgreSQL (standby)", rep.pg_port)
    init_replica(rep, sec)
    pg_ctl_start(rep)


def restart_point(rep: Replica, timeout_s: float = 30.0) -> None:
    """Move the standby's restart point up to the primary's present, before it stops.

    A standby can only restart from a checkpoint the primary wrote, and the primary writes one
    every checkpoint_timeout: without this, a restart replays up to that much WAL (a test run's
    worth took 25 s here, and over a minute on a slower machine) before it serves reads again.
    """
    if not (pg_running(rep) and pg_running(rep.primary)):
        return
    sec = load_secrets(rep.primary)
    if psql(rep, sec, "postgres", "SELECT pg_is_wal_replay_paused();").strip() == "t":
        return  # paused on purpose: it would never reach the new checkpoint
    lsn = psql(rep.primary, sec, "postgres", "CHECKPOINT; SELECT pg_current_wal_lsn();").strip()
    replayed = "SELECT pg_last_wal_replay_lsn() >= :'lsn'::pg_lsn;"
    deadline = time.monotonic() + timeout_s
    while psql(rep, sec, "postgres", replayed, lsn=lsn).strip() != "t":
        if time.monotonic() > deadline:
            log(f"{rep.name}: not caught up with the primary's checkpoint; stopping anyway")
            return
        time.sleep(0.1)
    psql(rep, sec, "postgres", "CHECKPOINT;")  # on a standby: a restart point at that checkpoint


def stop_replica(rep: Replica) -> None:
    restart_point(rep)
    stop_pg(rep)


def wait_replayed(rep: Replica, sec: dict[str, str], timeout_s: float = 60.0) -> None:
    """Wait until the standby streams from its slot, so the first reads find it current."""
    deadline = time.monotonic() + timeout_s
    sql = "SELECT count(*) FROM pg_stat_replication WHERE application_name = :'slot'"
    while time.monotonic() < deadline:
        if psql(rep.primary, sec, "postgres", sql + ";", slot=rep.slot).strip() == "1":
            return
        time.sleep(0.2)
    raise ServiceError(f"{rep.name}: not streaming from the primary after {timeout_s:.0f} s")


# --- Redis ---------------------------------------------------------------------------------


def redis_pid(inst: Instance) -> int | None:
    pidfile = inst.redis_dir / "redis.pid"
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def start_redis(inst: Instance, sec: dict[str, str]) -> None:
    if redis_pid(inst):
        log(f"{inst.name}: Redis already running on 127.0.0.1:{inst.redis_port}")
        return
    ensure_port_free(inst, "Redis", inst.redis_port)
    inst.redis_dir.mkdir(parents=True, exist_ok=True)
    conf = inst.redis_dir / "redis.conf"
    conf.touch(mode=0o600)
    conf.write_text(
        "\n".join(
            [
                "bind 127.0.0.1",
                f"port {inst.redis_port}",
                "protected-mode yes",
                "daemonize yes",
                f"pidfile {inst.redis_dir / 'redis.pid'}",
                f"logfile {inst.redis_dir / 'redis.log'}",
                f"dir {inst.redis_dir}",
                f"requirepass {sec['redis']}",
                "save 900 1" if inst.durable else 'save ""',
                "appendonly no",
            ]
        )
        + "\n"
    )
    subprocess.run([REDIS_SERVER, str(conf)], check=True)
    for _ in range(100):
        if redis_pid(inst):
            log(f"{inst.name}: Redis started on 127.0.0.1:{inst.redis_port}")
            return
        time.sleep(0.05)
    raise ServiceError(f"Redis did not start; see {inst.redis_dir / 'redis.log'}")


def stop_redis(inst: Instance) -> None:
    pid = redis_pid(inst)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if redis_pid(inst) is None:
            break
        time.sleep(0.05)
    log(f"{inst.name}: Redis stopped")


def process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, exited but not reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


#: pid files of an instance's detached Celery workers (Makefile: the default queue, training)
WORKER_PIDFILES = ("celery-worker.pid", "celery-training.pid")


def stop_worker(inst: Instance, grace_s: float = 30.0) -> None:
    """Stop the instance's detached Celery workers (``WORKER_PIDFILES`` in its var dir).

    They go before their broker and database do. SIGTERM asks for a warm shutdown (running
    tasks finish); a worker still there after ``grace_s`` gets SIGQUIT (cold shutdown: its tasks
    are abandoned and, acknowledged late, re-queued), then SIGKILL.
    """
    for name in WORKER_PIDFILES:
        pidfile = inst.var / name
        try:
            pid = int(pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            pidfile.unlink(missing_ok=True)
            continue
        for sig, wait_s in (
            (signal.SIGTERM, grace_s),
            (signal.SIGQUIT, 10.0),
            (signal.SIGKILL, 5.0),
        ):
            if not process_alive(pid):
                break
            os.kill(pid, sig)
            deadline = time.monotonic() + wait_s
            while process_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        if process_alive(pid):
            raise ServiceError(f"Celery worker {pid} did not stop")
        pidfile.unlink(missing_ok=True)
        log(f"{inst.name}: Celery worker stopped ({name})")


# --- commands ------------------------------------------------------------------------------


def start(inst: Instance, replica: int | None = None) -> None:
    if IS_ROOT:
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise ServiceError("no `postgres` user: run `scripts/services.py install`") from exc
    sec = load_secrets(inst)
    if replica is not None:
        start_replica(inst.replica(replica), sec)
        return
    start_pg(inst, sec)
    provision(inst, sec)
    for rep in configured_replicas(inst):
        start_replica(rep, sec)
        wait_replayed(rep, sec)
    start_redis(inst, sec)
    write_env(inst, sec)


def stop(inst: Instance, replica: int | None = None) -> None:
    if replica is not None:
        stop_replica(inst.replica(replica))
        return
    stop_worker(inst)
    stop_redis(inst)
    for rep in inst.replica_dirs():
        stop_replica(rep)
    stop_pg(inst)


def status(inst: Instance, replica: int | None = None) -> None:
    pg = "running" if pg_running(inst) else "stopped"
    redis = "running" if redis_pid(inst) else "stopped"
    standbys = "".join(
        f", replica {r.index} {'running' if pg_running(r) else 'stopped'} (127.0.0.1:{r.pg_port})"
        for r in inst.replica_dirs()
        if replica is None or r.index == replica
    )
    print(
        f"{inst.name}: postgresql {pg} (127.0.0.1:{inst.pg_port}){standbys}, "
        f"redis {redis} (127.0.0.1:{inst.redis_port})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser("install", help="apt-get what is missing; fix pg_sphere")
    p_install.add_argument("--test", action="store_true", help="also the browser-test packages")
    for name in ("start", "stop", "status"):
        p = sub.add_parser(name)
        p.add_argument("instance", nargs="?", default="demo" if name == "start" else "all")
        p.add_argument("--replica", type=int, help="only this hot standby (0, 1, ...)")
    sub.choices["start"].add_argument(
        "--replicas", type=int, help="hot standbys to run (default: services.toml's)"
    )
    args = parser.parse_args(argv)

    known = instances()
    replicas = getattr(args, "replicas", None)
    if replicas is None and os.environ.get("RVS_REPLICAS"):
        replicas = int(os.environ["RVS_REPLICAS"])
    if replicas is not None:
        if not 0 <= replicas <= MAX_REPLICAS:
            print(f"--replicas: 0 to {MAX_REPLICAS}", file=sys.stderr)
            return 2
        known = {name: replace(inst, replicas=replicas) for name, inst in known.items()}
    chosen = []
    if args.command != "install":
        if args.instance != "all" and args.instance not in known:
            print(f"unknown instance {args.instance!r}; known: {', '.join(known)}", file=sys.stderr)
            return 2
        chosen = list(known.values()) if args.instance == "all" else [known[args.instance]]
    actions = {"start": start, "stop": stop, "status": status}
    try:
        if args.command == "install":
            install(args.test)
        for inst in chosen:
            actions[args.command](inst, args.replica)
    except (ServiceError, subprocess.CalledProcessError) as exc:
        print(f"[services] error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
