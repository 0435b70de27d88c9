"""Indexes behind the customer search (see ``customers.selectors.customer_search_sql``).

- btree ``text_pattern_ops`` indexes serve exact and prefix matches (``= 'ann'``, ``LIKE 'ann%'``)
  whatever the database collation, with the merchant first so one merchant's rows are a range;
- one trigram GIN index over names, email and phone serves substring matches of 3+ characters;
- the card serial is searched by its digits (with or without dashes): a pattern btree for exact
  and prefix, a trigram GIN for substrings.

The expressions here must stay textually identical to the ones the search queries use, or
PostgreSQL will not use the indexes. They are raw SQL so that ``makemigrations`` leaves the
card table's indexes (another app's model) alone.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "customer_first_name_prefix": (
        "customers_customer (merchant_id, lower(first_name) text_pattern_ops)"
    ),
    "customer_last_name_prefix": (
        "customers_customer (merchant_id, lower(last_name) text_pattern_ops)"
    ),
    "customer_full_name_prefix": (
        "customers_customer (merchant_id, lower(first_name || ' ' || last_name) text_pattern_ops)"
    ),
    "customer_email_prefix": "customers_customer (merchant_id, lower(email) text_pattern_ops)",
    "customer_phone_prefix": "customers_customer (merchant_id, phone varchar_pattern_ops)",
    "customer_search_trgm": (
        "customers_customer USING gin "
        "(lower(first_name || ' ' || last_name || ' ' || email || ' ' || phone) gin_trgm_ops)"
    ),
    "card_serial_digits_prefix": (
        "cards_card (merchant_id, replace(serial, '-', '') text_pattern_ops)"
    ),
    "card_serial_digits_trgm": "cards_card USING gin (replace(serial, '-', '') gin_trgm_ops)",
}


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
        ("cards", "0002_ledger_append_only"),
    ]

    operations = [
        TrigramExtension(),
        *(
            migrations.RunSQL(
                sql=f"CREATE INDEX {name} ON {definition};",
                reverse_sql=f"DROP INDEX IF EXISTS {name};",
            )
            for name, definition in INDEXES.items()
        ),
    ]
