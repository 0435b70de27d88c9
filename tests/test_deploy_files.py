"""The shipped deployment files keep their safe defaults: no public secret, and the proxy that
may report client addresses is the same one for gunicorn and for the app."""

from __future__ import annotations

import re
from pathlib import Path

COMPOSE = (Path(__file__).resolve().parent.parent / "docker-compose.yml").read_text()
DOCKERFILE = (Path(__file__).resolve().parent.parent / "Dockerfile").read_text()


def _setting(name: str) -> str:
    """The value given to ``name`` in the app's environment block."""
    found = re.search(rf"^    {name}: (.+)$", COMPOSE, flags=re.MULTILINE)
    assert found, f"{name} is not set in docker-compose.yml"
    return found.group(1).strip().strip('"')


def test_compose_requires_the_secret_key_from_the_environment() -> None:
    value = _setting("SECRET_KEY")

    # ${VAR:?message}: compose stops with the message when SECRET_KEY is unset or empty.
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^$}]+\}", value), value
    assert "secrets.token_urlsafe" in value  # the message says how to make one
    assert "insecure" not in COMPOSE


def test_gunicorn_trusts_the_same_proxies_as_the_app() -> None:
    trusted = _setting("TRUSTED_PROXIES")

    assert trusted == "${TRUSTED_PROXIES:-127.0.0.1,::1}"
    # $$ is compose's literal $: the shell reads the container's own TRUSTED_PROXIES.
    assert '--forwarded-allow-ips "$$TRUSTED_PROXIES"' in COMPOSE
    assert _setting("BEHIND_PROXY") == "${BEHIND_PROXY:-0}"


def test_the_image_collects_the_static_files_at_build_time() -> None:
    # Hashed names and .gz/.br copies (tests/test_static_files.py) exist only once collected;
    # the image runs with production settings, where whitenoise serves them from STATIC_ROOT.
    build_steps = [line for line in DOCKERFILE.splitlines() if line.startswith("RUN ")]

    assert any("manage.py collectstatic --noinput" in step for step in build_steps)
    assert "DEBUG" not in DOCKERFILE
