"""The ledger is append-only, and the database itself says so.

A BEFORE UPDATE OR DELETE trigger raises on every attempt, whatever code or shell sends it.
(TRUNCATE, used only to reset a test database, is a different statement and is not blocked.)
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION cards_ledgerentry_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: % refused on cards_ledgerentry', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER cards_ledgerentry_append_only
BEFORE UPDATE OR DELETE ON cards_ledgerentry
FOR EACH ROW EXECUTE FUNCTION cards_ledgerentry_refuse_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS cards_ledgerentry_append_only ON cards_ledgerentry;
DROP FUNCTION IF EXISTS cards_ledgerentry_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("cards", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
