"""Signals of the cards app, for apps above it that keep data derived from cards.

``ledger_recorded`` is sent inside the ledger's transaction, after a card's entries and
aggregates are written, so a receiver's writes commit or roll back with the entries. The CRM
keeps each customer's visits and last activity this way without the ledger knowing it exists.
"""

from django.dispatch import Signal

# Arguments: card (the locked Card, already updated), entries (the LedgerEntry rows written,
# with their ids), visits (int: the visits the entries added, negative for a write-off),
# at (datetime: the entries' time).
ledger_recorded = Signal()

# Sent inside the transaction that replaced a card's install link, so apps above can drop what
# the old link's holder set up: pushes expires the card's subscriptions. Arguments: card (the
# locked Card, already carrying its new token), reason (str, a ``LinkRotation`` value), at.
card_link_rotated = Signal()

# Sent when a link emailed to the holder's address was opened: the address is theirs. The CRM
# marks it verified. Arguments: card, email (str, the address the link was sent to), at.
holder_email_confirmed = Signal()

# Sent inside the transaction that changed what a card's holder sees on it outside the ledger:
# its expiration date moved or it was deleted. Wallet passes are re-issued (a deleted card's
# pass becomes void). Arguments: card (the locked Card, already changed), at.
card_changed = Signal()

# Sent inside the transaction that changed a program's design or rules (name, colours, logo,
# stamps per reward, tiers): every card of it looks different now. Arguments: program, at.
program_changed = Signal()

# Sent after entries were written in bulk outside ``ledger_append`` (the data generator's
# COPY), inside the loading transaction: apps that derive data from the ledger rebuild it.
# Arguments: merchants (the ids of the merchants whose ledger grew).
ledger_bulk_loaded = Signal()
