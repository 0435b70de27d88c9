"""Every URL of the project, walked with every persona.

Owner, admin, staff, another merchant's owner and an anonymous visitor each request every
URL; the test asserts who gets in, who gets a 403 (role too low) and who gets a 404 (another
merchant's object: no information leak). A URL missing from ``ACCESS`` fails the test, so a
new view cannot skip the matrix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

pytestmark = pytest.mark.django_db

PUBLIC, MEMBER, MANAGER, OWNER = "public", "member", "manager", "owner"


@dataclass(frozen=True)
class Route:
    access: str
    method: str = "get"


# Who may use each URL, and the method that exercises it (POST for actions).
ACCESS: dict[str, Route] = {
    "home": Route(MEMBER),
    "login": Route(PUBLIC),
    "logout": Route(PUBLIC, "post"),
    "merchant_switch": Route(MEMBER, "post"),
    "healthz": Route(PUBLIC),
    "javascript_catalog": Route(PUBLIC),
    "language_update": Route(PUBLIC, "post"),
    "invitation_accept": Route(PUBLIC),
    "customers:list": Route(MEMBER),
    "customers:export": Route(MEMBER),
    "customers:add": Route(MEMBER),
    "customers:add_fields": Route(MEMBER),
    "customers:segments": Route(MEMBER),
    "customers:segments_recompute": Route(OWNER, "post"),
    "customers:remove": Route(MANAGER),
    "customers:information": Route(MEMBER),
    "cards:profile": Route(MEMBER),
    "cards:metrics": Route(MEMBER),
    "cards:history": Route(MEMBER),
    "cards:history_csv": Route(MEMBER),
    "cards:delete": Route(MANAGER),
    "cards:expiration": Route(MEMBER),
    "cards:dialog": Route(MEMBER),
    "cards:dialog_preview": Route(MEMBER, "post"),
    "feedback:tab": Route(MEMBER),
    "pushes:tab": Route(MEMBER),
    "pushes:messages": Route(MEMBER),
    "pushes:edit": Route(MEMBER),
    "pushes:cancel": Route(MEMBER, "post"),
    "pushes_public:subscribe": Route(PUBLIC),
    "public:join": Route(PUBLIC),
    "public:join_qr": Route(PUBLIC),
    "public:join_theme": Route(PUBLIC),
    "public:referral": Route(PUBLIC),
    "public:card": Route(PUBLIC),
    "public:card_feedback": Route(PUBLIC, "post"),
    "public:card_installed": Route(PUBLIC, "post"),
    "public:card_manifest": Route(PUBLIC),
    "public:card_sw": Route(PUBLIC),
    "public:card_icon_png": Route(PUBLIC),
    "public:card_icon_svg": Route(PUBLIC),
    "public:card_theme": Route(PUBLIC),
    "settings:home": Route(MANAGER),
    "settings:programs": Route(MANAGER),
    "settings:program_create": Route(MANAGER),
    "settings:program_edit": Route(MANAGER),
    "settings:program_archive": Route(MANAGER, "post"),
    "settings:program_restore": Route(MANAGER, "post"),
    "settings:program_logo": Route(MANAGER),
    "settings:program_issue_card": Route(MANAGER),
    "settings:custom_field_create": Route(MANAGER, "post"),
    "settings:custom_field_edit": Route(MANAGER),
    "settings:custom_field_delete": Route(MANAGER, "post"),
    "settings:custom_field_move": Route(MANAGER, "post"),
    "settings:team": Route(MANAGER),
    "settings:invite": Route(MANAGER),
    "settings:invitation_resend": Route(MANAGER, "post"),
    "settings:invitation_revoke": Route(MANAGER, "post"),
    "settings:member_role": Route(MANAGER, "post"),
    "settings:member_remove": Route(MANAGER, "post"),
    "settings:audit": Route(OWNER),
    "settings:language": Route(MANAGER),
    "settings:segments": Route(MANAGER),
    "settings:segments_preview": Route(MANAGER),
}

# URL arguments that name one of *this* merchant's objects: another merchant gets a 404.
OBJECT_ARGUMENTS = {"serial", "pk", "message_id", "field_pk"}


def _named_urls(patterns: list[Any], namespace: str = "") -> Iterator[tuple[str, set[str]]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _named_urls(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield name, set(pattern.pattern.converters)


def test_every_url_is_in_the_matrix() -> None:
    assert {name for name, _ in _named_urls(get_resolver().url_patterns)} == set(ACCESS)


def _url(name: str, arguments: set[str], world: dict[str, Any]) -> str:
    kwargs = {}
    for argument in arguments:
        value = world[argument]
        if argument == "pk":
            value = value.get(name, world["program_pk"])
        kwargs[argument] = value
    return reverse(name, kwargs=kwargs)


def _request(client: Client, route: Route, url: str) -> Any:
    return getattr(client, route.method)(url)


def _is_login_redirect(response: Any) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/login/")


def _let_in(response: Any) -> bool:
    return response.status_code not in (403, 404) and not _is_login_redirect(response)


# logout and merchant_switch change the session rather than show anything; the account
# tests cover them.
URLS = [
    (name, arguments)
    for name, arguments in sorted(_named_urls(get_resolver().url_patterns))
    if name not in {"logout", "merchant_switch"}
]


def _allowed(persona: str, access: str) -> bool:
    return {
        "owner": True,
        "admin": access != OWNER,
        "staff": access in (PUBLIC, MEMBER),
    }[persona]


@pytest.mark.parametrize("persona", ["owner", "admin", "staff"])
@pytest.mark.parametrize(("name", "arguments"), URLS, ids=[name for name, _ in URLS])
def test_each_role_gets_in_exactly_where_it_belongs(
    persona: str, name: str, arguments: set[str], world, owner_client, admin_client_, staff_client
) -> None:
    client = {"owner": owner_client, "admin": admin_client_, "staff": staff_client}[persona]
    route = ACCESS[name]
    response = _request(client, route, _url(name, arguments, world))
    if _allowed(persona, route.access):
        assert _let_in(response), f"{persona} got {response.status_code}"
    else:
        assert response.status_code == 403


@pytest.mark.parametrize(
    ("name", "arguments"),
    [(n, a) for n, a in URLS if ACCESS[n].access != PUBLIC and a & OBJECT_ARGUMENTS],
    ids=[n for n, a in URLS if ACCESS[n].access != PUBLIC and a & OBJECT_ARGUMENTS],
)
def test_another_merchants_owner_gets_404_for_this_merchants_objects(
    name: str, arguments: set[str], world, outsider_client
) -> None:
    response = _request(outsider_client, ACCESS[name], _url(name, arguments, world))
    assert response.status_code == 404


@pytest.mark.parametrize(("name", "arguments"), URLS, ids=[name for name, _ in URLS])
def test_anonymous_visitors_reach_only_the_public_pages(
    name: str, arguments: set[str], world, client: Client
) -> None:
    route = ACCESS[name]
    response = _request(client, route, _url(name, arguments, world))
    if route.access == PUBLIC:
        assert not _is_login_redirect(response)
    else:
        assert _is_login_redirect(response)
