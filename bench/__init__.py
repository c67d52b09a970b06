"""Benchmarks: ``python -m bench`` runs them all, ``python -m bench <name> [options]`` one of them.

Each module here exposes ``main(argv: list[str]) -> None`` and prints its figures. They run
against PostgreSQL (``DATABASE_URL``) in a throwaway database that is dropped afterwards.
"""
