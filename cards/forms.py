"""Forms of the cards app. Forms parse and present; the rules and services decide."""

from __future__ import annotations

from django import forms  # noqa: F401
