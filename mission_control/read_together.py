"""Several read-only statements in one round trip to the database.

A hot path that needs a few small, independent reads (routing: the candidates, the settings, the
policies, the budgets) pays a round trip, and under load a wake-up of a descheduled process, for
each. Django's psycopg backend binds parameters on the client by default, so PostgreSQL receives one
simple-protocol query and answers each statement with a result of its own. With parameters bound on
the server (``OPTIONS["server_side_binding"]``) or on SQLite, the statements run one by one.
"""

from collections.abc import Sequence

import psycopg
from django.db import connection

Statement = tuple[str, Sequence]


def read_together(statements: Sequence[Statement]) -> list[list[tuple]]:
    """The rows of each statement (SQL with ``%s`` placeholders, its parameters), in order. The SQL
    must not end with a semicolon."""
    with connection.cursor() as cursor:
        if len(statements) > 1 and _sends_many(cursor.cursor):
            cursor.execute(";\n".join(sql for sql, _ in statements), [p for _, ps in statements for p in ps])
            results = [cursor.fetchall()]
            while cursor.cursor.nextset():
                results.append(cursor.fetchall())
            if len(results) != len(statements):  # an empty statement would shift every later result
                raise RuntimeError(f"read_together: {len(statements)} statements, {len(results)} results")
            return results
        results = []
        for sql, params in statements:
            cursor.execute(sql, params)
            results.append(cursor.fetchall())
        return results


def _sends_many(raw) -> bool:
    return connection.vendor == "postgresql" and isinstance(raw, psycopg.ClientCursor)
