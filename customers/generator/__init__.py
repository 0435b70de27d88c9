"""Generated data at scale: merchants, programs, customers, cards and their ledger histories.

``generate`` (the ``generate_data`` command) fills a database with what benchmarks need, a
million customers and ten million ledger entries in a few minutes. Going through the services
would take a millisecond per entry, so the rows are streamed with PostgreSQL COPY instead; each
of them is still a row a real action could have written:

- every card's history is folded by a plain-integer copy of ``cards.rules`` (cents and
  hundredths of a percent instead of Decimals, one loop per kind of card instead of a dataclass
  per entry): the card's columns are the fold of its ledger (``verify_ledger`` passes), and each
  entry's deltas are what its action's rule computes (the tests replay every entry through
  ``cards.rules``);
- request fingerprints are the ledger's own (``request_fingerprint`` over the action's
  canonical inputs and comment), staff operation keys look like the dialogs' (32 hex digits) and
  system keys are the ones the services write (``issue:<card>``, ``welcome:<card>``,
  ``referral:<new card>``);
- the CRM columns are what ``customer_record_activity`` leaves behind after those writes, and
  the segments are computed at the end by ``segments_recompute``, merchant by merchant.

One transaction holds the whole load. The secondary indexes of the three big tables are dropped
first and re-created from their own definitions at the end; PostgreSQL's DDL is transactional,
so a load that fails anywhere rolls back to the very same indexes and constraints. Python
generates rows on one core while a thread streams them to PostgreSQL on the other.

Everything but the install and referral tokens comes from ``seed``: the same seed and sizes
give the same data (the tokens are links to the cards and stay unguessable).

The modules, in the order a run goes through them:

- ``specs``: units of time, the shape of the histories, ``GeneratorError``, and the merchants
  to create (names, locales, teams, programs) drawn from the seed;
- ``tenants``: the merchants, teams, programs and tiers created through the ORM;
- ``plan``: every customer and card decided up front, with exact entry counts;
- ``columns``: the three tables' COPY columns and the text of money and shared values;
- ``fold``, ``stamp_fold``, ``cashback_fold``: one card's history written and folded, per kind
  of card;
- ``rows``: the writer that turns the plan into COPY text and sends it to a sink;
- ``load``: the COPY pipe, the indexes and constraints dropped and re-created, id reservation;
- ``run``: ``generate``, the whole run, and its ``Summary``.
"""

from customers.generator.run import Summary, generate
from customers.generator.specs import GeneratorError

__all__ = ["GeneratorError", "Summary", "generate"]
