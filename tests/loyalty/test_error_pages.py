"""The 404 and 500 pages are the product's own, with DEBUG off as in production: its look, a
way back, the visitor's language. The 500 page renders without the request's context (Django's
``server_error`` gives it none), so nothing on it may need a context processor or a URL."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.template.loader import get_template
from django.test import Client
from django.urls import path

from loyalty import urls as project_urls

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def _broken_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug in a view")


# The project's URLs and one view that fails.
urlpatterns = [path("broken/", _broken_view), *project_urls.urlpatterns]

PRODUCT_LOOK = ('rel="stylesheet" href="/static/css/app.css"', 'class="narrow error-page"')


@pytest.fixture(autouse=True)
def _production_debug(settings: Any) -> None:
    settings.DEBUG = False


def test_an_unknown_address_shows_a_visitor_the_products_404_page() -> None:
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert response.templates[0].name == "404.html"
    page = response.text
    assert all(part in page for part in PRODUCT_LOOK)
    assert "<h1>Not found</h1>" in page
    assert '<a href="/" role="button" data-back>Go to the start page</a>' in page
    assert '<meta name="description" content="There is nothing at this address.">' in page


def test_an_unknown_address_keeps_a_member_in_the_dashboard(owner_client: Client) -> None:
    response = owner_client.get("/customers/no-such-page/")

    assert response.status_code == 404
    page = response.text
    assert all(part in page for part in PRODUCT_LOOK)
    assert "<strong>Demo Coffee</strong>" in page  # the dashboard's header
    assert '<a href="/" role="button" data-back>Back to the dashboard</a>' in page


def test_the_404_page_speaks_the_visitors_language() -> None:
    response = Client().get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="es")

    assert response.status_code == 404
    assert '<html lang="es"' in response.text
    assert "<h1>No encontrado</h1>" in response.text


def test_a_view_that_fails_shows_the_products_500_page(caplog: Any) -> None:
    response = Client(raise_request_exception=False).get("/broken/")

    assert response.status_code == 500
    page = response.text
    assert all(part in page for part in PRODUCT_LOOK)
    assert "<h1>Something went wrong</h1>" in page
    assert '<a href="/" role="button" data-back>Go to the start page</a>' in page
    assert "a bug in a view" not in page  # nothing of the error reaches the visitor
    assert any(record.exc_info for record in caplog.records if record.name == "django.request")


def test_the_500_page_shows_a_member_nothing_of_the_merchant(owner_client: Client) -> None:
    owner_client.raise_request_exception = False

    response = owner_client.get("/broken/", HTTP_ACCEPT_LANGUAGE="es")

    assert response.status_code == 500
    assert "Demo Coffee" not in response.text
    assert '<html lang="es"' in response.text
    assert "<h1>Algo ha fallado</h1>" in response.text


def test_the_500_page_renders_without_any_context() -> None:
    # As Django's server_error view renders it: no request, so no context processors.
    page = get_template("500.html").render()

    assert all(part in page for part in PRODUCT_LOOK)
    assert "Something went wrong" in page
