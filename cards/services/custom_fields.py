"""The questions a program's join form asks besides the built-in ones (custom fields)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from cards.models import CustomField, FieldType, Program
from cards.services.programs import lock_program
from loyalty.actors import Actor
from loyalty.audit import audit_record
from loyalty.models import AuditAction

MAX_CUSTOM_FIELDS = 20
MAX_CHOICES = 30
# Keys of the join form's own questions; a custom field never takes one of these.
RESERVED_FIELD_KEYS = frozenset(
    {"first_name", "last_name", "name", "email", "phone", "birthday", "consent"}
)


def _clean_label(label: str) -> str:
    label = (label or "").strip()
    if not label:
        raise ValidationError(
            {"label": _("Enter the question customers see, e.g. Favourite drink.")}
        )
    if len(label) > 80:
        raise ValidationError({"label": _("Keep the label under 80 characters.")})
    return label


def _clean_choices(field_type: str, choices: list[str] | None) -> list[str]:
    if field_type != FieldType.CHOICE:
        return []
    options = [c.strip() for c in (choices or []) if c and c.strip()]
    if len(options) < 2:
        raise ValidationError(
            {"choices": _("A choice field needs at least 2 options, one per line.")}
        )
    if len(options) > MAX_CHOICES:
        raise ValidationError({"choices": _("Use at most %(max)s options.") % {"max": MAX_CHOICES}})
    too_long = next((o for o in options if len(o) > 80), None)
    if too_long is not None:
        raise ValidationError(
            {
                "choices": _("Keep each option under 80 characters: %(option)s…")
                % {"option": too_long[:20]}
            }
        )
    seen: set[str] = set()
    for option in options:
        if option.casefold() in seen:
            raise ValidationError(
                {"choices": _("The option %(option)s appears twice.") % {"option": option}}
            )
        seen.add(option.casefold())
    return options


def _unique_key(program: Program, label: str) -> str:
    base = (slugify(label).replace("-", "_") or "field")[:32]
    if base in RESERVED_FIELD_KEYS:
        base = f"{base}_extra"
    taken = set(program.custom_fields.values_list("key", flat=True))
    key, suffix = base, 2
    while key in taken:
        key = f"{base}_{suffix}"
        suffix += 1
    return key


def _label_taken(program: Program, label: str, exclude_pk: int | None = None) -> bool:
    others = program.custom_fields.filter(label__iexact=label)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return others.exists()


def _fields_changed(program: Program, actor: Actor, summary: str) -> None:
    audit_record(
        merchant=program.merchant,
        actor=actor,
        action=AuditAction.CUSTOM_FIELDS_CHANGED,
        summary=summary,
        details={"program_id": program.pk},
    )


def custom_field_create(
    *,
    program: Program,
    label: str,
    field_type: str,
    required: bool,
    choices: list[str] | None,
    actor: Actor,
) -> CustomField:
    label = _clean_label(label)
    if field_type not in FieldType.values:
        raise ValidationError({"field_type": _("Choose text, number, date or choice.")})
    options = _clean_choices(field_type, choices)
    with transaction.atomic():
        locked = lock_program(program)
        count = locked.custom_fields.count()
        if count >= MAX_CUSTOM_FIELDS:
            raise ValidationError(
                _("A join form has at most %(max)s custom fields.") % {"max": MAX_CUSTOM_FIELDS}
            )
        if _label_taken(locked, label):
            raise ValidationError(
                {"label": _("This form already asks %(label)s.") % {"label": label}}
            )
        field = CustomField.objects.create(
            program=locked,
            key=_unique_key(locked, label),
            label=label,
            field_type=field_type,
            required=required,
            choices=options,
            position=count,
        )
        _fields_changed(locked, actor, f"Added the field {label} to the join form of {locked.name}")
    return field


def custom_field_update(
    *,
    field: CustomField,
    label: str,
    required: bool,
    choices: list[str] | None,
    actor: Actor,
) -> CustomField:
    """Rename, make required or not, change options. The type and the key stay: answers
    already collected are stored under the key in that type."""
    label = _clean_label(label)
    options = _clean_choices(field.field_type, choices)
    with transaction.atomic():
        program = lock_program(field.program)
        if _label_taken(program, label, exclude_pk=field.pk):
            raise ValidationError(
                {"label": _("This form already asks %(label)s.") % {"label": label}}
            )
        field.label, field.required, field.choices = label, required, options
        field.save(update_fields=["label", "required", "choices"])
        _fields_changed(
            program, actor, f"Changed the field {label} on the join form of {program.name}"
        )
    return field


def custom_field_delete(*, field: CustomField, actor: Actor) -> None:
    """Remove the question; answers customers already gave stay on their records."""
    with transaction.atomic():
        program = lock_program(field.program)
        field.delete()
        _renumber(list(program.custom_fields.order_by("position", "pk")))
        _fields_changed(
            program, actor, f"Removed the field {field.label} from the join form of {program.name}"
        )


def custom_field_move(*, field: CustomField, direction: str, actor: Actor) -> None:
    """Move a question one place up or down the join form."""
    if direction not in {"up", "down"}:
        raise ValidationError(_("Move a field up or down."))
    with transaction.atomic():
        program = lock_program(field.program)
        fields = list(program.custom_fields.order_by("position", "pk"))
        index = next(i for i, f in enumerate(fields) if f.pk == field.pk)
        other = index - 1 if direction == "up" else index + 1
        if not 0 <= other < len(fields):
            return
        fields[index], fields[other] = fields[other], fields[index]
        _renumber(fields)
        _fields_changed(
            program, actor, f"Moved the field {field.label} {direction} on {program.name}"
        )


def _renumber(fields: list[CustomField]) -> None:
    for position, item in enumerate(fields):
        item.position = position
    CustomField.objects.bulk_update(fields, ["position"])
