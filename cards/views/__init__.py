"""Views of the cards app, one module per area:

- ``profile``: the customer's profile seen through one card (metrics, lifecycle, history).
- ``dialogs``: the plus/minus dialogs that change balances (HTMX partials, plain POST fallback).
- ``programs``: settings for programs and their rules (owners and admins).
- ``public``: what customers see: the join page and the PWA card.
"""
