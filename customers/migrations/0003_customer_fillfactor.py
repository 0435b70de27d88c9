"""Leave room on each page of the customers table for updates in place.

The nightly segment recompute rewrites the segment of every customer who moved. With full
pages each new row version lands on another page and every index of the table (the search's
trigram index included) gets a new entry; with free room on the page, PostgreSQL updates in
place (a HOT update: no index touched, since the segment columns are not indexed). At a million
customers this halves a mass recompute (bench/segments_recompute.py). Existing rows get the
room when the table is next rewritten (VACUUM FULL or pg_repack); new pages at once.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_search_indexes")]

    operations = [
        migrations.RunSQL(
            sql="ALTER TABLE customers_customer SET (fillfactor = 50);",
            reverse_sql="ALTER TABLE customers_customer RESET (fillfactor);",
        ),
    ]
