"""``PlainSelect`` renders what Django's ``Select`` renders, without its templates."""

from __future__ import annotations

import re

import pytest
from django import forms

from loyalty.widgets import PlainSelect

CHOICES = [("", "All"), ("a", "Ann & <Bob>"), (3, "Three"), ('x"y', "Quote")]


def _options(html: str) -> list[tuple[str, bool, str]]:
    found = re.findall(r'<option value="([^"]*)"( selected)?>(.*?)</option>', html, re.S)
    return [(value, bool(selected), label.strip()) for value, selected, label in found]


@pytest.mark.parametrize("value", ["", "a", 3, "3", 'x"y', None, "missing"])
def test_it_renders_the_options_django_renders(value: object) -> None:
    plain = PlainSelect(choices=CHOICES).render("f", value, attrs={"id": "id_f"})
    django = forms.Select(choices=CHOICES).render("f", value, attrs={"id": "id_f"})

    assert _options(plain) == _options(django)
    assert plain.startswith('<select id="id_f" name="f">')


def test_labels_and_values_are_escaped() -> None:
    html = PlainSelect(choices=CHOICES).render("f", "a")

    assert "Ann &amp; &lt;Bob&gt;" in html
    assert 'value="x&quot;y"' in html
    assert "<Bob>" not in html
