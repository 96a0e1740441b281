"""`python -m bench [name ...]`: run the benchmarks (each module in bench/ with a main()).

Each bench runs as its own process (`python -m bench.<name>`, at its full size): one bench's
Django set-up, arguments or failure do not leak into the next, and a failing bench does not stop
the others; the summary at the end says which failed, and the exit status is non-zero if any did.
"""

import ast
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
SKIP = {"common", "__main__"}


def has_main(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)


def benches() -> list[str]:
    return sorted(
        path.stem
        for path in HERE.glob("*.py")
        if path.stem not in SKIP and not path.stem.startswith("_") and has_main(path)
    )


def main() -> None:
    known = benches()
    names = sys.argv[1:] or known
    unknown = [name for name in names if name not in known]
    if unknown:
        sys.exit(f"no such bench: {', '.join(unknown)} (benches: {', '.join(known)})")
    failed = []
    for name in names:
        print(f"== bench.{name}", flush=True)
        started = time.perf_counter()
        code = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=HERE.parent, check=False).returncode
        outcome = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"== bench.{name}: {outcome} in {time.perf_counter() - started:.0f} s")
        if code:
            failed.append(name)
    print(f"{len(names) - len(failed)} of {len(names)} benches ran; results in bench/results/")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
