"""The idempotency keys' reference to the ledger checked once per statement, not once per row
(issue 15 goal 2: batch ingestion).

The composite foreign key ``(execution_id, execution_created_at) -> executions_execution`` ran
PostgreSQL's referential check for every key: a query through the partitioned ledger and a
``FOR KEY SHARE`` lock written onto the execution row. For a batch of 1,000 reports that cost
more database time than copying the executions themselves (73 ms of backend CPU against 27 ms).
An ``AFTER INSERT ... FOR EACH STATEMENT`` trigger with the statement's new keys as a transition
table checks them all in one query (one index probe per key in its month's partition, ~8 ms)
and refuses an orphan with the same error (SQLSTATE 23503, constraint name
``idempotencykey_execution_fk``). What the lock protected, an execution deleted under its key,
cannot happen: the ledger is append-only (row and TRUNCATE triggers), and ``archive_ledger``
already dropped this key and re-added it NOT VALID so keys of archived months stay.
"""

from django.db import migrations

CHECK = """
CREATE OR REPLACE FUNCTION executions_idempotencykey_references() RETURNS trigger
LANGUAGE plpgsql AS $f$
DECLARE
    orphan record;
BEGIN
    -- LATERAL ... LIMIT 1: one index probe per new key, in its month's partition only.
    SELECT k.execution_id, k.execution_created_at INTO orphan
    FROM added k
    LEFT JOIN LATERAL (
        SELECT 1 AS found FROM executions_execution e
        WHERE e.id = k.execution_id AND e.created_at = k.execution_created_at
        LIMIT 1
    ) e ON true
    WHERE e.found IS NULL
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'insert or update on table "executions_idempotencykey" violates foreign key '
                        'constraint "idempotencykey_execution_fk"'
            USING ERRCODE = 'foreign_key_violation',
                  CONSTRAINT = 'idempotencykey_execution_fk',
                  TABLE = 'executions_idempotencykey',
                  DETAIL = format(
                      'Key (execution_id, execution_created_at)=(%s, %s) is not present in table '
                      '"executions_execution".', orphan.execution_id, orphan.execution_created_at);
    END IF;
    RETURN NULL;
END
$f$;
CREATE TRIGGER executions_idempotencykey_references_trg
    AFTER INSERT ON executions_idempotencykey
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION executions_idempotencykey_references();
ALTER TABLE executions_idempotencykey DROP CONSTRAINT IF EXISTS idempotencykey_execution_fk;
"""

UNDO = """
DROP TRIGGER IF EXISTS executions_idempotencykey_references_trg ON executions_idempotencykey;
DROP FUNCTION IF EXISTS executions_idempotencykey_references();
ALTER TABLE executions_idempotencykey ADD CONSTRAINT idempotencykey_execution_fk
    FOREIGN KEY (execution_id, execution_created_at) REFERENCES executions_execution (id, created_at) NOT VALID;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(CHECK)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(UNDO)


class Migration(migrations.Migration):
    dependencies = [("executions", "0016_log_agent_business")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
