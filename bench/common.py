"""Helpers shared by the benchmarks: a throw-away PostgreSQL database and a results file."""

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")


def fresh_database(name: str) -> str:
    """Drop and recreate database `name`, migrate it, return its DATABASE_URL."""
    for sql in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", f"{PG_SERVER}/postgres", "-qc", sql], check=True)
    url = f"{PG_SERVER}/{name}"
    manage("migrate", "-v", "0", database_url=url)
    return url


def manage(*args: str, database_url: str, stdin=None, capture: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        stdin=stdin,
        capture_output=capture,
        text=True,
        check=False,
    )


@contextmanager
def timer():
    result = {}
    started = time.perf_counter()
    yield result
    result["seconds"] = time.perf_counter() - started


def machine() -> str:
    """Cores, Python and the PostgreSQL server the benches run against, as they report themselves."""
    server = subprocess.run(
        ["psql", f"{PG_SERVER}/postgres", "-tAc", "SHOW server_version"], capture_output=True, text=True, check=False
    ).stdout.split()
    postgres = f"PostgreSQL {server[0]}" if server else "PostgreSQL (version not readable)"
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {postgres} at {PG_SERVER.rsplit('@', 1)[-1]}"


def write_result(name: str, text: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(text, encoding="utf-8")
    return path
