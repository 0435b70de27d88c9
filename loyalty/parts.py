"""Page parts: how an app adds to a page that an app below it owns, without being imported.

Imports run one way (see the README): ``cards`` owns the card profile and the customer's card
page, but the feedback rating and the last push message shown on them belong to apps above it.
Those apps register a part in their ``AppConfig.ready``; the page asks its ``PageParts`` for the
context they add. A part takes the page's main object and returns template context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Part = Callable[[T], dict[str, Any]]


class PageParts(Generic[T]):
    def __init__(self, page: str) -> None:
        self.page = page
        self._parts: list[Part[T]] = []

    def register(self, part: Part[T]) -> Part[T]:
        if part not in self._parts:  # ready() may run twice in tests
            self._parts.append(part)
        return part

    def context(self, subject: T) -> dict[str, Any]:
        context: dict[str, Any] = {}
        for part in self._parts:
            context.update(part(subject))
        return context
