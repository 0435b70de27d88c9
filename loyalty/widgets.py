"""Widgets rendered in Python for the busiest pages.

Django renders a ``<select>`` through a template per option (and another for each option's
attributes); on the customers list the four filters cost more than the page's query. These
render the same markup with ``format_html``, escaping exactly as the templates do.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


class PlainSelect(forms.Select):
    """A single ``<select>`` without option groups, rendered without templates."""

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: Any = None,
    ) -> SafeString:
        chosen = set(self.format_value(value))
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (key, " selected" if key in chosen else "", label)
                for key, label in ((str(option), label) for option, label in self.choices)
            ),
        )
        return format_html(
            "<select{}>{}</select>",
            flatatt(self.build_attrs(self.attrs, {**(attrs or {}), "name": name})),
            options,
        )


class ColorInput(forms.TextInput):
    """``<input type="color">``: it always holds a colour, so HTML allows it neither
    ``maxlength`` nor ``required`` (the form field still checks both on the server)."""

    input_type = "color"

    def use_required_attribute(self, initial: Any) -> bool:
        return False

    def build_attrs(
        self, base_attrs: dict[str, Any], extra_attrs: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        attrs = super().build_attrs(base_attrs, extra_attrs)
        attrs.pop("maxlength", None)
        return attrs
