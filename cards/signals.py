"""Signals of the cards app, for apps above it that keep data derived from the ledger.

``ledger_recorded`` is sent inside the ledger's transaction, after a card's entries and
aggregates are written, so a receiver's writes commit or roll back with the entries. The CRM
keeps each customer's visits and last activity this way without the ledger knowing it exists.
"""

from django.dispatch import Signal

# Arguments: card (the locked Card, already updated), visits (int: the visits the entries
# added, negative for a write-off), at (datetime: the entries' time).
ledger_recorded = Signal()
