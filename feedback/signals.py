"""Signals of the feedback app, for apps above it that keep data derived from ratings.

``feedback_recorded`` is sent inside the transaction that stored a rating, so a receiver's
writes commit or roll back with it: the statistics' daily rollup adds it to its day.
Arguments: feedback (the new Feedback, its card loaded with the merchant).
"""

from django.dispatch import Signal

feedback_recorded = Signal()
