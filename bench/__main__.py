"""``python -m bench`` runs every benchmark; ``python -m bench ingest --batches 5`` runs one.

A benchmark is a module of this package with a ``main(argv)`` (or a ``main()`` reading ``sys.argv``)."""

import importlib
import inspect
import pkgutil
import sys

import bench


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    names = available()
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip(), "\nBenchmarks:", ", ".join(names))
        return 0
    if argv and not argv[0].startswith("-"):
        if argv[0] not in names:
            print(f"unknown benchmark {argv[0]!r}; one of: {', '.join(names)}", file=sys.stderr)
            return 2
        run(argv[0], argv[1:])
        return 0
    for name in names:
        print(f"== {name}", flush=True)
        run(name, argv)
    return 0


def run(name: str, argv: list[str]) -> None:
    """Call the module's ``main``: with ``argv`` if it takes it, else with ``sys.argv`` set."""
    entry = importlib.import_module(f"bench.{name}").main
    if inspect.signature(entry).parameters:
        entry(argv)
    else:
        sys.argv = [f"bench.{name}", *argv]
        entry()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
