"""Many new rows in one statement: PostgreSQL's ``COPY`` with ids taken from the sequence first.

``bulk_create`` spends most of its time in Django (each value through ``get_db_prep_save``, then
an ``INSERT ... SELECT FROM unnest(...)`` with arrays built in Python); a batch of 1,000
executions took longer to insert than everything else it does. Here the ids come first, in one
query (``nextval`` over ``generate_series``, so they are this transaction's alone and in order),
then the rows go in with ``COPY ... FROM STDIN`` and the instances get their ids. Row triggers
and constraints apply as for ``INSERT``; a failure rolls back with the caller's transaction.

Other databases (the embedded SQLite) get ``bulk_create``. The COPY shows in Django's query log
(``CaptureQueriesContext``, the hot-path pins) as one statement, as an INSERT would.
"""

import json
from contextlib import nullcontext
from decimal import Decimal
from functools import cache, partial
from operator import itemgetter

from django.db import connections, models
from django.db.models.base import ModelState

from mission_control import json_text


def new_row(model: type[models.Model], /, **values) -> models.Model:
    """An unsaved instance, as ``model(**values)`` makes it, for a fraction of the work: defaults
    are worked out once per model (callables such as ``dict`` or ``now`` still called per row).
    ``values`` name fields by attribute (``agent_id``) or, for a foreign key, by field with the
    related object (``agent=agent``, cached as the constructor caches it). Models with
    ``pre_init``/``post_init`` receivers or a custom ``__init__`` must not come here."""
    constants, calls, relations = _defaults(model)
    obj = model.__new__(model)
    obj._state = state = ModelState()
    row = obj.__dict__
    row.update(constants)
    for name, make in calls:
        if name not in values:
            row[name] = make()
    for name, value in values.items():
        relation = relations.get(name)
        if relation is None:
            row[name] = value
        else:
            row[relation] = None if value is None else value.pk
            state.fields_cache[name] = value
    return obj


def row_maker(model: type[models.Model], /, **common):
    """:func:`new_row` for many rows that share ``common`` values (named as for ``new_row``):
    those and the defaults are laid out once, so a row costs a dict copy and its own ``values``
    (by attribute name only, no related objects). ``make(values)`` returns the instance."""
    shared = new_row(model, **common)
    template = {name: value for name, value in shared.__dict__.items() if name != "_state"}
    related = dict(shared._state.fields_cache)
    # Callable defaults (``dict``, ``now``) still give each row its own value, unless it has one.
    calls = tuple((name, default) for name, default in _defaults(model)[1] if name not in common)

    def make(values: dict) -> models.Model:
        obj = model.__new__(model)
        obj._state = state = ModelState()
        state.fields_cache = dict(related)
        row = obj.__dict__
        row.update(template)
        for name, default in calls:
            if name not in values:
                row[name] = default()
        row.update(values)
        return obj

    return make


@cache  # one entry per model class: bounded
def _defaults(model):
    constants, calls, relations = {}, [], {}
    for field in model._meta.concrete_fields:
        if field.has_default() and callable(field.default):
            calls.append((field.attname, field.default))
        else:
            constants[field.attname] = field.get_default()
        if field.is_relation and field.many_to_one:
            relations[field.name] = field.attname
    return constants, tuple(calls), relations


def allocate_ids(*wanted: tuple[type[models.Model], int], using: str = "default") -> list[list[int]] | None:
    """Ids for ``(model, count)`` pairs from their tables' sequences, all in one query, ascending.
    None on a database without sequences (the rows get theirs when inserted).

    The transaction takes its id before the first of these is drawn, as the event table's column
    default does (mission_control migration 0003: the live stream must see a late writer of a gap
    as running)."""
    connection = connections[using]
    longest = max((count for _, count in wanted), default=0)
    if connection.vendor != "postgresql" or not longest:
        return None
    sequences, columns, params = [], [], []
    for i, (model, count) in enumerate(wanted):
        # Looked up once per statement (as regclass), not once per row.
        sequences.append(f"pg_get_serial_sequence(%s, %s)::regclass AS s{i}")
        params += [model._meta.db_table, model._meta.pk.column]
        columns.append(f"CASE WHEN n <= {int(count)} THEN nextval(s.s{i}) END")
    # The filter is a one-time filter, run before any row: the xid comes before any nextval.
    sql = (
        f"WITH s AS MATERIALIZED (SELECT {', '.join(sequences)}) "  # noqa: S608 (fixed text)
        f"SELECT {', '.join(columns)} FROM s, generate_series(1, %s) AS n WHERE pg_current_xact_id() IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, longest])
        rows = cursor.fetchall()
    return [sorted(row[i] for row in rows if row[i] is not None) for i in range(len(wanted))]


def insert_rows(
    objs: list[models.Model], *, ids: list[int] | None = None, using: str = "default"
) -> list[models.Model]:
    """Insert unsaved instances of one model and set their primary keys; returns them. ``ids``:
    taken beforehand with :func:`allocate_ids` (else taken here, one query).

    Signals are not sent (as with ``bulk_create``) and ``save()`` is not called.
    """
    if not objs:
        return objs
    model = type(objs[0])
    connection = connections[using]
    if connection.vendor != "postgresql":
        return model.objects.using(using).bulk_create(objs, batch_size=500)
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.generated]
    stamped = [f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    if ids is None:
        (ids,) = allocate_ids((model, len(objs)), using=using)
    pk = meta.pk.attname
    for obj, pk_value in zip(objs, ids, strict=True):
        setattr(obj, pk, pk_value)
        for field in stamped:
            field.pre_save(obj, add=True)
    row_of = itemgetter(*(f.attname for f in fields))
    copy_rows(model, [f.attname for f in fields], (row_of(obj.__dict__) for obj in objs), using=using)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = using
    return objs


def copy_rows(model: type[models.Model], names: list[str], rows, *, using: str = "default") -> None:
    """``COPY`` value tuples into ``model``'s table (PostgreSQL only): ``names`` are the fields'
    attribute names, each row holds their Python values in that order (ids included), as the
    model would store them. For a batch's own rows, without making an instance of each.

    In COPY's binary format when every column's type is one of :data:`BINARY_TYPES`: a datetime
    then goes as its 8 bytes instead of through ``isoformat()`` and the server's text parser
    (~4 us a value on each side; a batch of 1,000 reports has ~5,000 of them)."""
    connection = connections[using]
    meta = model._meta
    fields = tuple(meta.get_field(name) for name in names)
    table = connection.ops.quote_name(meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    types = binary_types(fields, using)
    convert = partial(_converter, binary=types is not None)
    converted = [(i, conv) for i, conv in enumerate(map(convert, fields)) if conv is not None]
    sql = f"COPY {table} ({columns}) FROM STDIN" + (" (FORMAT BINARY)" if types else "")
    with connection.cursor() as cursor:
        logged = cursor.debug_sql(sql) if hasattr(cursor, "debug_sql") else nullcontext()
        with logged, cursor.cursor.copy(sql) as copy:
            if types:
                copy.set_types(types)
            write = copy.write_row
            if not converted:
                for row in rows:
                    write(row)
                return
            for row in rows:
                row = list(row)
                for i, conv in converted:
                    if row[i] is not None:
                        row[i] = conv(row[i])
                write(row)


# PostgreSQL column type -> the type psycopg dumps the Python value as in COPY's binary format.
# Each must be the column's own binary representation: a bigint column gets int8, never int4.
# jsonb's binary form is a version byte and the text, so it goes as bytes (see _converter).
BINARY_TYPES = {
    "bigint": "int8",
    "integer": "int4",
    "smallint": "int2",
    "varchar": "text",
    "text": "text",
    "boolean": "bool",
    "timestamp with time zone": "timestamptz",
    "numeric": "numeric",
    "jsonb": "bytea",
}


@cache  # one entry per (fields, database) a caller copies: bounded by the code
def binary_types(fields: tuple[models.Field, ...], using: str = "default") -> tuple[str, ...] | None:
    """The binary COPY types of ``fields``' columns, or None when one has a type not in
    :data:`BINARY_TYPES` (the rows then go in COPY's text format)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    types = []
    for field in fields:
        db_type = field.db_type(connection) or ""
        name = BINARY_TYPES.get(db_type.split("(", 1)[0].strip())
        if name is None:
            return None
        types.append(name)
    return tuple(types)


def _converter(field: models.Field, *, binary: bool = False):
    """What a value needs before psycopg may copy it: JSON as its text (COPY's text format hands
    it to jsonb's own parser, as a Jsonb wrapper would, without a dumper per value; the binary
    format wants jsonb's version byte 1 before it), decimals as decimals. Text needs nothing:
    choices are str enums, which psycopg copies by their value."""
    if isinstance(field, models.JSONField):
        dumps = partial(json.dumps, cls=field.encoder) if field.encoder else json_text.dumps
        return (lambda value: b"\x01" + dumps(value).encode()) if binary else dumps
    if isinstance(field, models.DecimalField):
        return lambda value: value if type(value) is Decimal else field.to_python(value)
    return None
