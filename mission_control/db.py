"""Database-level guards for append-only tables (PostgreSQL triggers).

The models already refuse to change these rows; the triggers make it true for every client,
a bug in a raw query or a psql session included. On SQLite (the embedded default) the model
guards are the only ones.
"""

from django.db import migrations


def _trigger_sql(table: str, frozen_when: str | None) -> tuple[str, str]:
    fn = f"{table}_append_only"
    update_rule = (
        f"IF TG_OP = 'UPDATE' AND ({frozen_when}) THEN "
        f"RAISE EXCEPTION '% rows are immutable once terminal', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation'; END IF;"
        if frozen_when
        else "IF TG_OP = 'UPDATE' THEN RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME "
        "USING ERRCODE = 'integrity_constraint_violation'; END IF;"
    )
    forward = f"""
CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION '% rows cannot be deleted', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  {update_rule}
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS {fn}_trg ON {table};
CREATE TRIGGER {fn}_trg BEFORE UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION {fn}();
DROP TRIGGER IF EXISTS {fn}_truncate_trg ON {table};
CREATE TRIGGER {fn}_truncate_trg BEFORE TRUNCATE ON {table}
  FOR EACH STATEMENT EXECUTE FUNCTION {fn}_truncate();
"""
    truncate_fn = f"""
CREATE OR REPLACE FUNCTION {fn}_truncate() RETURNS trigger AS $$
BEGIN
  -- The test runner empties tables between transactional tests; it alone sets this.
  IF current_setting('mission_control.allow_truncate', true) = 'on' THEN RETURN NULL; END IF;
  RAISE EXCEPTION '% cannot be truncated', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
"""
    backward = f"""
DROP TRIGGER IF EXISTS {fn}_trg ON {table};
DROP TRIGGER IF EXISTS {fn}_truncate_trg ON {table};
DROP FUNCTION IF EXISTS {fn}();
DROP FUNCTION IF EXISTS {fn}_truncate();
"""
    return truncate_fn + forward, backward


def append_only(table: str, *, frozen_when: str | None = None) -> migrations.RunPython:
    """A migration operation installing the guard on PostgreSQL (a no-op elsewhere).

    ``frozen_when``: a SQL condition over ``OLD`` under which UPDATE is refused (e.g.
    ``OLD.status IN ('success','failed','aborted')``); without it every UPDATE is refused.
    DELETE and TRUNCATE are always refused.
    """
    forward_sql, backward_sql = _trigger_sql(table, frozen_when)

    def forward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            with schema_editor.connection.cursor() as cursor:  # no params: '%' stays literal
                cursor.execute(forward_sql)

    def backward(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(backward_sql)

    return migrations.RunPython(forward, backward, elidable=False)


def move_content_types(old_label: str, new_label: str, models: list[str]) -> migrations.RunPython:
    """A migration operation for models moved between apps with their tables: their content types
    are relabelled (same ids), so permissions granted on them and admin log entries follow them.

    A row under the new label may already exist when a process running the new code looked one up
    before the migration ran (``ContentType.objects.get_for_model`` creates it). Nothing points at
    such a row but what that process wrote; an unreferenced one is dropped so the old row, holding
    the history, can take its name. A referenced one is left alone (both rows stay, nothing is lost)."""

    def relabel(apps, schema_editor, old: str, new: str) -> None:
        content_type = apps.get_model("contenttypes", "ContentType")
        referers = [
            apps.get_model(app, model) for app, model in (("auth", "Permission"), ("admin", "LogEntry"))
        ]
        for model in models:
            if not content_type.objects.filter(app_label=old, model=model).exists():
                continue
            clash = content_type.objects.filter(app_label=new, model=model).first()
            if clash is not None:
                if any(r.objects.filter(content_type=clash).exists() for r in referers):
                    continue
                clash.delete()
            content_type.objects.filter(app_label=old, model=model).update(app_label=new)

    return migrations.RunPython(
        lambda apps, editor: relabel(apps, editor, old_label, new_label),
        lambda apps, editor: relabel(apps, editor, new_label, old_label),
        elidable=False,
    )
