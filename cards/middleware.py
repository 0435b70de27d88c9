"""Turns a replaced card link into its explanation page, whichever app's view looked it up.

Every page under /c/<token>/ (the card, its app files, and the parts of feedback and pushes)
finds its card through ``cards.selectors.card_by_install_token``, which raises
``CardLinkRetired`` for a replaced token. Django has no exception that means 410, so this
middleware answers it: one place instead of a check in every view.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from cards.card_page import link_replaced
from cards.selectors import CardLinkRetired


class RetiredCardLinkMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, CardLinkRetired):
            return link_replaced(request, exception.card.merchant)
        return None
