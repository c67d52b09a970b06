"""Turning the existing ledger tables into monthly-partitioned ones, in place (migration 0013).

No copy: the table as it is becomes the first partition, ``<table>_history``, holding everything
before the first monthly partition (``FROM (MINVALUE) TO (<bound>)``). Per table:

1. outside any transaction: ``UNIQUE (id, <key>)`` built ``CONCURRENTLY`` (the new primary key) and
   ``CHECK (<key> < bound)`` added ``NOT VALID`` then validated (a scan under a weak lock), so the
   attach below needs no scan of its own;
2. in one short transaction: the table is renamed ``<table>_history`` (its indexes get an ``_h``
   suffix), the partitioned parent is created with the same columns, defaults, checks, indexes and
   foreign keys, the id sequence moves to it, and the history table is attached (PostgreSQL adopts
   its matching indexes and foreign keys instead of building them).

Timings on a copy of the demo data and on 2 million executions: README "Partitioned ledger".
"""

import time
from datetime import datetime

from django.db import transaction

from executions.partitions import truncate_trigger_sql


def _short(name: str, suffix: str) -> str:
    return name[: 63 - len(suffix)] + suffix


def convert(connection, table: str, key: str, bound: datetime, say=print) -> None:
    history = f"{table}_history"
    tmp_pk = _short(table, "_idkey_tmp")
    check = _short(table, "_history_bound")
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {tmp_pk} ON {table} (id, {key})")
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {check} CHECK ({key} < %s) NOT VALID", [bound])
        cursor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {check}")
    say(f"    {table}: new key and bound checked in {time.monotonic() - started:.1f}s")
    started = time.monotonic()
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.conname, pg_get_constraintdef(c.oid), c.contype, i.relname FROM pg_constraint c "
            "LEFT JOIN pg_class i ON i.oid = c.conindid "
            "WHERE c.conrelid = %s::regclass AND c.contype IN ('f', 'u')",
            [table],
        )
        constraints = cursor.fetchall()
        constraint_indexes = {index for _, _, kind, index in constraints if kind == "u"}
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s",
            [table],
        )
        indexes = [
            (name, definition)
            for name, definition in cursor.fetchall()
            if name not in (f"{table}_pkey", tmp_pk) and name not in constraint_indexes
        ]
        cursor.execute(
            "SELECT attidentity FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'id'", [table]
        )
        identity = cursor.fetchone()[0] in ("a", "d")
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        cursor.execute(f"SELECT last_value, is_called FROM {sequence}")  # noqa: S608
        last_value, is_called = cursor.fetchone()
        if identity:
            cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP IDENTITY")
        else:
            cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP DEFAULT")
        cursor.execute(f"ALTER TABLE {table} RENAME TO {history}")
        cursor.execute(f"ALTER TABLE {history} DROP CONSTRAINT {table}_pkey")
        cursor.execute(
            f"ALTER TABLE {history} ADD CONSTRAINT {history}_pkey PRIMARY KEY USING INDEX {tmp_pk}"
        )
        for name, _ in indexes:
            cursor.execute(f"ALTER INDEX {name} RENAME TO {_short(name, '_h')}")
        for _, _, kind, index in constraints:
            # A unique constraint's index (and the constraint) take the suffix. A foreign key's
            # conindid is the referenced table's key: never renamed.
            if kind == "u":
                cursor.execute(f"ALTER INDEX {index} RENAME TO {_short(index, '_h')}")
        # The parent's row trigger is cloned onto every partition, this one included.
        cursor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_trg ON {history}")
        cursor.execute(
            f"CREATE TABLE {table} (LIKE {history} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE) "
            f"PARTITION BY RANGE ({key})"
        )
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {check}")
        if identity:
            cursor.execute(f"CREATE SEQUENCE {sequence} AS bigint OWNED BY {table}.id")
        else:
            cursor.execute(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id")
        cursor.execute("SELECT setval(%s, %s, %s)", [sequence, last_value, is_called])
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('{sequence}'::regclass)")
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id, {key})")
        for _, definition in indexes:
            cursor.execute(definition)  # "CREATE INDEX <name> ON <schema>.<table> ...": now the parent
        for name, definition, _, _ in constraints:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        cursor.execute(
            f"ALTER TABLE {table} ATTACH PARTITION {history} FOR VALUES FROM (MINVALUE) TO (%s)", [bound]
        )
        cursor.execute(f"ALTER TABLE {history} DROP CONSTRAINT {check}")
        fn = f"{table}_append_only"
        cursor.execute(
            f"CREATE TRIGGER {fn}_trg BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {fn}()"
        )
        cursor.execute(truncate_trigger_sql(table, table))
        cursor.execute(truncate_trigger_sql(table, history))
    say(f"    {table}: partitioned (history attached) in {time.monotonic() - started:.1f}s")


# (referencing table, constraint): each names an execution by (id, created_at). The idempotency
# keys name theirs too, checked by a statement trigger (migration 0017), not a foreign key.
REFERENCES = (
    ("executions_executionlog", "executionlog_execution_fk"),
    ("executions_costcorrection", "costcorrection_execution_fk"),
)
STEP_AND_CRON_RUNS = (
    ("workflows_steprun", "steprun_execution_fk"),
    ("workflows_cronrun", "cronrun_execution_fk"),
)


def add_reference(connection, table: str, name: str, *, partitioned: bool = False, say=print) -> None:
    """The composite foreign key ``(execution_id, execution_created_at) -> ledger (id, created_at)``.
    Added NOT VALID then validated (a scan under a weak lock) where PostgreSQL allows it; a
    partitioned table (the logs) has it validated as it is added."""
    started = time.monotonic()
    sql = (
        f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (execution_id, execution_created_at) "
        "REFERENCES executions_execution (id, created_at)"
    )
    with connection.cursor() as cursor:
        if partitioned:
            cursor.execute(sql)
        else:
            cursor.execute(sql + " NOT VALID")
            cursor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")
    say(f"    {table}: composite foreign key in {time.monotonic() - started:.1f}s")
