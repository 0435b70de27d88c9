"""Signals of the loyalty app, for apps above it that keep data derived from the merchant.

``merchant_changed`` is sent inside the transaction that changed what the merchant's customers
see of the merchant itself (its contact details), so a receiver's writes commit or roll back
with the change: wallet passes are issued again. Arguments: merchant (the locked Merchant,
already changed).

``demo_data_seeded`` is sent by the ``seed_demo`` command once the demo merchants, customers and
cards are in place, so apps above add their own demo data (idempotently, like the command).
Arguments: merchants (the demo Merchants).
"""

from django.dispatch import Signal

merchant_changed = Signal()
demo_data_seeded = Signal()
