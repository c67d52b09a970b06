"""Shared set-up: Django against a throwaway PostgreSQL database, dropped on exit."""

import os
import sys
from contextlib import contextmanager


@contextmanager
def throwaway_database(name: str):
    """Configure Django, create (and migrate) database ``name`` on the DATABASE_URL server,
    yield, then drop it. Refuses to run without PostgreSQL: the figures would mean nothing."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit(
            "bench: set DATABASE_URL to a PostgreSQL server, e.g. postgres://root@127.0.0.1:5432/postgres"
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mission_control.settings")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.conf import settings

    # Two people benchmarking against one server from their own databases must not drop each
    # other's throwaway: the name carries the DATABASE_URL's database unless that is ``postgres``.
    own = os.environ["DATABASE_URL"].rsplit("/", 1)[1].split("?")[0]
    if own and own != "postgres":
        name = f"{name}_{own}"
    settings.DATABASES["default"]["TEST"] = {"NAME": name}
    django.setup()
    from django.db import connection

    original = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield
    finally:
        try:
            connection.creation.destroy_test_db(original, verbosity=0)
        except Exception:  # a pooler (bench fleet --pooler) still holds server connections to it
            from django.db import connections

            with connections["default"]._nodb_cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
