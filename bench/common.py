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


def load_average() -> str:
    """The 1/5/15-minute load averages, as the results files quote them."""
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def git_commit() -> str:
    """The commit measured, with a mark when the tree holds uncommitted changes."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    )
    return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def header(title: str, *, command: str, data: str, started_load: str) -> str:
    """The opening every results file shares: what ran, on what machine, at what load, on what data."""
    return (
        f"# {title}\n\n"
        f"Run: `{command}` at commit {git_commit()}. Machine: {machine()}.\n"
        f"Load average (1/5/15 min) at the start: {started_load}, at the end: {load_average()} "
        f"({os.cpu_count()} cores shared with whatever else ran).\n"
        f"Data: {data}\n\n"
    )


# Runs the measured command from a small fresh interpreter and writes that child's peak RSS: a
# child forked straight from a bench (which may hold gigabytes of generated rows) would count the
# bench's pages it held before exec in its own maximum.
_PEAK_RSS_WRAPPER = """
import os, sys
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_measured(
    args: list[str], *, env: dict | None = None, stdin=None
) -> tuple[subprocess.CompletedProcess, float, int]:
    """Run a whole process as an operator would; return it, its wall seconds and its peak RSS in KiB
    (the kernel's maximum resident set size of that process, from wait4)."""
    import shutil
    import tempfile

    program = shutil.which(args[0]) or args[0]
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as peak:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _PEAK_RSS_WRAPPER, peak.name, program, *args[1:]],
            env={**os.environ, **(env or {})},
            stdin=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        text = peak.read().strip()
    return done, seconds, int(text) if text.isdigit() else -1


def manage_measured(*args: str, database_url: str, stdin=None) -> tuple[subprocess.CompletedProcess, float, int]:
    """`manage.py <args>` as a whole process, with the bench's bytecode cache: (result, wall seconds,
    peak RSS KiB)."""
    return run_measured(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env={"DATABASE_URL": database_url, **bytecode_cache()},
        stdin=stdin,
    )


_BYTECODE_CACHE: list[str] = []  # the bench process's cache directory, once made


def bytecode_cache() -> dict[str, str]:
    """The environment of a measured process that starts with Python's bytecode cache, as
    `manage.py` does by default and an installed deployment has it: this environment sets
    PYTHONDONTWRITEBYTECODE=1, under which every start compiled the project's ~90 modules from
    source again (~0.2 s of a whole process). The cache is the bench process's own (a temporary
    directory, removed when it exits), not the shared checkout's; the first process started with it
    fills it, so a bench runs its subject once before it measures (`warm`)."""
    if not _BYTECODE_CACHE:
        import atexit
        import shutil
        import tempfile

        _BYTECODE_CACHE.append(tempfile.mkdtemp(prefix="pdd-bench-pycache-"))
        atexit.register(shutil.rmtree, _BYTECODE_CACHE[0], ignore_errors=True)
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": _BYTECODE_CACHE[0]}


def clone(source: str, *targets: str) -> None:
    """Each of `targets` a fresh copy of database `source` (which nobody may be connected to)."""
    for target in targets:
        for sql in (f"DROP DATABASE IF EXISTS {target} WITH (FORCE)", f"CREATE DATABASE {target} TEMPLATE {source}"):
            subprocess.run(["psql", f"{PG_SERVER}/postgres", "-X", "-qc", sql], check=True)


def use_database(name: str) -> None:
    """Point the bench's own connection at database `name` (it reconnects on its next query)."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name


def psql_file_seconds(url: str, path: Path, variables: dict[str, str]) -> float:
    """`psql -f path` on database `url` with these `-v` variables, a whole process (a floor): its
    wall seconds; the bench exits when it fails."""
    command = ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    for name, value in variables.items():
        command += ["-v", f"{name}={value}"]
    started = time.perf_counter()
    done = subprocess.run([*command, "-f", str(path)], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"{path.name} failed: {done.stderr}")
    return seconds
