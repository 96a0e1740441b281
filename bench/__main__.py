"""`python -m bench [name ...]`: run the benchmarks (each module in bench/ with a main())."""

import importlib
import pkgutil
import sys
from pathlib import Path

SKIP = {"common", "__main__"}


def main() -> None:
    found = pkgutil.iter_modules([str(Path(__file__).parent)])
    names = sys.argv[1:] or sorted(m.name for m in found if m.name not in SKIP and not m.name.startswith("_"))
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "main"):
            continue
        print(f"== bench.{name}", flush=True)
        sys.argv = [f"bench.{name}"]
        module.main()


if __name__ == "__main__":
    main()
