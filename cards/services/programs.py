"""Programs (card templates) and their rules, tiers and join-form questions: the settings."""

from __future__ import annotations

import datetime
import io
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from PIL import Image, UnidentifiedImageError

from cards import rules
from cards.models import (
    CustomField,
    FieldType,
    Mechanism,
    Program,
    ProgramKind,
    Tier,
    Validity,
)
from loyalty import clock
from loyalty.actors import Actor
from loyalty.audit import audit_record
from loyalty.models import AuditAction, Merchant

# ---------------------------------------------------------------------------------------------
# Programs: creating, editing and archiving card templates and their rules (settings)
#
# A rule change applies to later entries only: every ledger entry stores its own deltas (and
# cashback entries the tier in force), so nothing here touches an existing entry or balance.

MAX_TIERS = 10
MAX_BONUS_STAMPS = 1000
MAX_VALID_DAYS = 3650
MAX_STAMPS_PER_VISIT = 100
MAX_STAMPS_PER_REWARD = 100
MAX_LOGO_BYTES = 1024 * 1024
MAX_CUSTOM_FIELDS = 20
MAX_CHOICES = 30
# Keys of the join form's own questions; a custom field never takes one of these.
RESERVED_FIELD_KEYS = frozenset(
    {"first_name", "last_name", "name", "email", "phone", "birthday", "consent"}
)
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)
ProgramErrors = dict[str, list[str]]


@dataclass(frozen=True)
class TierSpec:
    name: str
    threshold: Decimal | None
    percentage: Decimal | None


@dataclass(frozen=True)
class ProgramSpec:
    """Everything a merchant sets on a program, as parsed by the form (not yet validated)."""

    name: str
    kind: str
    mechanism: str = Mechanism.SPEND
    spend_per_stamp: Decimal | None = None
    stamps_per_visit: int | None = 1
    stamps_per_reward: int | None = 10
    tiers: tuple[TierSpec, ...] = ()
    referral_bonus: Decimal | None = None
    welcome_bonus: Decimal | None = None
    validity: str = Validity.NONE
    valid_until: datetime.date | None = None
    valid_days: int | None = None
    background_color: str = "#5b3a29"
    foreground_color: str = "#ffffff"


def _add(errors: ProgramErrors, field_name: str, message: str) -> None:
    errors.setdefault(field_name, []).append(message)


def _decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _check_money(
    errors: ProgramErrors, field_name: str, value: Decimal | None, *, label: str, low: Decimal
) -> None:
    if value is None:
        return
    if _decimal_places(value.normalize()) > 2:
        _add(errors, field_name, f"{label}: use at most 2 decimal places.")
    elif value < low:
        _add(errors, field_name, f"{label} must be at least {low}.")
    elif value > rules.MAX_AMOUNT:
        _add(errors, field_name, f"{label} can be at most {rules.MAX_AMOUNT:,}.")


def _check_stamp_rules(spec: ProgramSpec, errors: ProgramErrors) -> None:
    if spec.mechanism not in Mechanism.values:
        _add(errors, "mechanism", "Choose how stamps are earned: per amount spent or per visit.")
    elif spec.mechanism == Mechanism.SPEND:
        if spec.spend_per_stamp is None:
            _add(errors, "spend_per_stamp", "Enter the amount a customer spends to earn a stamp.")
        else:
            _check_money(
                errors,
                "spend_per_stamp",
                spec.spend_per_stamp,
                label="The spend per stamp",
                low=Decimal("0.01"),
            )
    elif spec.stamps_per_visit is None:
        _add(errors, "stamps_per_visit", "Enter how many stamps a visit earns.")
    elif not 1 <= spec.stamps_per_visit <= MAX_STAMPS_PER_VISIT:
        _add(errors, "stamps_per_visit", f"A visit earns 1 to {MAX_STAMPS_PER_VISIT} stamps.")
    if spec.stamps_per_reward is None:
        _add(errors, "stamps_per_reward", "Enter how many stamps make a reward.")
    elif not 1 <= spec.stamps_per_reward <= MAX_STAMPS_PER_REWARD:
        _add(
            errors,
            "stamps_per_reward",
            f"A reward takes 1 to {MAX_STAMPS_PER_REWARD} stamps.",
        )


def _check_tiers(tiers: tuple[TierSpec, ...], errors: ProgramErrors) -> None:
    """Names unique, thresholds strictly increasing from 0, percentages 0-100 (2 decimals)."""
    if not tiers:
        _add(errors, "tiers", "Add at least one tier; the first starts at a threshold of 0.")
        return
    if len(tiers) > MAX_TIERS:
        _add(errors, "tiers", f"Use at most {MAX_TIERS} tiers.")
    seen: set[str] = set()
    previous: Decimal | None = None
    for number, tier in enumerate(tiers, start=1):
        label = f"Tier {number}"
        name = tier.name.strip()
        if not name:
            _add(errors, "tiers", f"{label}: enter a name (for example Bronze).")
        elif len(name) > 60:
            _add(errors, "tiers", f"{label}: keep the name under 60 characters.")
        elif name.casefold() in seen:
            _add(errors, "tiers", f"{label}: another tier is already called {name}.")
        seen.add(name.casefold())
        if tier.threshold is None:
            _add(errors, "tiers", f"{label}: enter the spend threshold.")
        elif _decimal_places(tier.threshold.normalize()) > 2:
            _add(errors, "tiers", f"{label}: use at most 2 decimal places in the threshold.")
        elif number == 1 and tier.threshold != 0:
            _add(errors, "tiers", "Tier 1 must start at a threshold of 0, where every card starts.")
        elif tier.threshold < 0 or tier.threshold > rules.MAX_AMOUNT:
            _add(
                errors,
                "tiers",
                f"{label}: the threshold must be between 0 and {rules.MAX_AMOUNT:,}.",
            )
        elif previous is not None and tier.threshold <= previous:
            _add(
                errors,
                "tiers",
                f"{label}: the threshold ({tier.threshold}) must be higher than the tier "
                f"before it ({previous}); thresholds increase from tier to tier.",
            )
        if tier.threshold is not None:
            previous = tier.threshold
        if tier.percentage is None:
            _add(errors, "tiers", f"{label}: enter the cashback percentage.")
        elif _decimal_places(tier.percentage.normalize()) > 2:
            _add(errors, "tiers", f"{label}: use at most 2 decimal places in the percentage.")
        elif not 0 <= tier.percentage <= 100:
            _add(errors, "tiers", f"{label}: the percentage must be between 0 and 100.")


def _check_bonus(spec: ProgramSpec, field_name: str, label: str, errors: ProgramErrors) -> None:
    value = getattr(spec, field_name)
    if value is None:
        return
    if value < 0:
        _add(errors, field_name, f"The {label} cannot be negative.")
    elif spec.kind == ProgramKind.STAMP:
        if value != value.to_integral_value():
            _add(errors, field_name, f"The {label} is a whole number of stamps on a stamp card.")
        elif value > MAX_BONUS_STAMPS:
            _add(errors, field_name, f"The {label} can be at most {MAX_BONUS_STAMPS} stamps.")
    else:
        _check_money(errors, field_name, value, label=f"The {label}", low=Decimal("0"))


def _check_validity(
    spec: ProgramSpec, program: Program | None, today: datetime.date, errors: ProgramErrors
) -> None:
    if spec.validity not in Validity.values:
        _add(errors, "validity", "Choose how long new cards stay valid.")
    elif spec.validity == Validity.FIXED_DATE:
        if spec.valid_until is None:
            _add(errors, "valid_until", "Enter the date the cards expire.")
        elif spec.valid_until < today and (
            program is None or spec.valid_until != program.valid_until
        ):
            _add(errors, "valid_until", "Choose a date from today on; new cards would be expired.")
    elif spec.validity == Validity.DAYS:
        if spec.valid_days is None:
            _add(errors, "valid_days", "Enter after how many days a new card expires.")
        elif not 1 <= spec.valid_days <= MAX_VALID_DAYS:
            _add(errors, "valid_days", f"Enter between 1 and {MAX_VALID_DAYS} days.")


def _relative_luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(background: str, foreground: str) -> float:
    """WCAG contrast ratio of two #rrggbb colours, from 1 (same) to 21 (black on white)."""
    light, dark = sorted((_relative_luminance(background), _relative_luminance(foreground)))[::-1]
    return (light + 0.05) / (dark + 0.05)


def _check_colors(spec: ProgramSpec, errors: ProgramErrors) -> None:
    valid = True
    for field_name, label in (("background_color", "background"), ("foreground_color", "text")):
        if not _COLOR.match(getattr(spec, field_name) or ""):
            _add(errors, field_name, f"Enter the {label} colour as #rrggbb, e.g. #5b3a29.")
            valid = False
    if valid:
        ratio = contrast_ratio(spec.background_color, spec.foreground_color)
        if ratio < 3:
            _add(
                errors,
                "foreground_color",
                f"The text colour is too close to the background (contrast {ratio:.1f}:1, at "
                "least 3:1 needed): customers could not read their card.",
            )


def program_check(
    *, merchant: Merchant, spec: ProgramSpec, program: Program | None = None
) -> ProgramErrors:
    """Every problem with ``spec`` at once, keyed by form field (``tiers`` for the tier rows)."""
    errors: ProgramErrors = {}
    name = spec.name.strip()
    if not name:
        _add(errors, "name", "Enter a name for the program, e.g. Coffee card.")
    elif len(name) > 120:
        _add(errors, "name", "Keep the name under 120 characters.")
    else:
        same_name = Program.objects.active().filter(merchant=merchant, name__iexact=name)
        if program is not None:
            same_name = same_name.exclude(pk=program.pk)
        if same_name.exists():
            _add(errors, "name", f"You already have a program called {name}.")
    if spec.kind not in ProgramKind.values:
        _add(errors, "kind", "Choose a stamp card or a cashback card.")
    elif program is not None and spec.kind != program.kind and program.cards.exists():
        _add(
            errors,
            "kind",
            "This program has issued cards, so it stays a "
            f"{program.get_kind_display().lower()}. Create a new program for the other kind.",
        )
    elif spec.kind == ProgramKind.STAMP:
        _check_stamp_rules(spec, errors)
    else:
        _check_tiers(spec.tiers, errors)
    if spec.kind in ProgramKind.values:
        _check_bonus(spec, "referral_bonus", "referral bonus", errors)
        _check_bonus(spec, "welcome_bonus", "welcome bonus", errors)
    _check_validity(spec, program, timezone.localdate(timezone=merchant.tz), errors)
    _check_colors(spec, errors)
    return errors


def logo_clean(upload: Any) -> tuple[bytes, str]:
    """The bytes and extension of an uploaded logo, or a ValidationError for ``logo``.

    Accepts PNG, JPEG, GIF and WebP up to 1 MB, recognised by their content, not by the name
    the browser sent. Never SVG: it can carry scripts.
    """
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_LOGO_BYTES:
        raise ValidationError(
            {"logo": f"The logo is {size / 1024 / 1024:.1f} MB; the limit is 1 MB."}
        )
    data = upload.read(MAX_LOGO_BYTES + 1)
    if len(data) > MAX_LOGO_BYTES:
        raise ValidationError({"logo": "The logo is larger than the 1 MB limit."})
    if not data:
        raise ValidationError({"logo": "The file is empty."})
    extension = _image_extension(data)
    if extension is None:
        raise ValidationError({"logo": "Upload a PNG, JPEG, GIF or WebP image."})
    return data, extension


def _image_extension(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        extension: str | None = "webp"
    else:
        extension = next((ext for sig, ext in _IMAGE_SIGNATURES if data.startswith(sig)), None)
    if extension is None:
        return None
    # Decode it too: a valid header is not a valid image.
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    return extension


_PROGRAM_FIELDS = (
    "name",
    "kind",
    "mechanism",
    "spend_per_stamp",
    "stamps_per_visit",
    "stamps_per_reward",
    "referral_bonus",
    "welcome_bonus",
    "validity",
    "valid_until",
    "valid_days",
    "background_color",
    "foreground_color",
)
_FIELD_LABELS = {
    "name": "name",
    "kind": "kind",
    "mechanism": "stamp mechanism",
    "spend_per_stamp": "spend per stamp",
    "stamps_per_visit": "stamps per visit",
    "stamps_per_reward": "stamps per reward",
    "referral_bonus": "referral bonus",
    "welcome_bonus": "welcome bonus",
    "validity": "card validity",
    "valid_until": "expiry date",
    "valid_days": "validity in days",
    "background_color": "background colour",
    "foreground_color": "text colour",
    "tiers": "tiers",
    "logo": "logo",
}


def _normalized(spec: ProgramSpec) -> dict[str, Any]:
    """The column values for ``spec``: rules of the other kind are cleared, not kept around."""
    stamp = spec.kind == ProgramKind.STAMP
    spend = stamp and spec.mechanism == Mechanism.SPEND
    values: dict[str, Any] = {
        "name": spec.name.strip(),
        "kind": spec.kind,
        "mechanism": spec.mechanism if stamp else "",
        "spend_per_stamp": rules.money(spec.spend_per_stamp)
        if spend and spec.spend_per_stamp is not None
        else None,
        "stamps_per_visit": (spec.stamps_per_visit or 1) if stamp and not spend else 1,
        "stamps_per_reward": spec.stamps_per_reward if stamp else 10,
        "referral_bonus": rules.money(spec.referral_bonus or Decimal(0)),
        "welcome_bonus": rules.money(spec.welcome_bonus or Decimal(0)),
        "validity": spec.validity,
        "valid_until": spec.valid_until if spec.validity == Validity.FIXED_DATE else None,
        "valid_days": spec.valid_days if spec.validity == Validity.DAYS else None,
        "background_color": spec.background_color.lower(),
        "foreground_color": spec.foreground_color.lower(),
    }
    return values


def _tier_rows(spec: ProgramSpec) -> list[tuple[str, Decimal, Decimal]]:
    if spec.kind != ProgramKind.CASHBACK:
        return []
    return [
        (t.name.strip(), rules.money(t.threshold), rules.money(t.percentage))  # type: ignore[arg-type]
        for t in spec.tiers
    ]


def _save_tiers(program: Program, rows: list[tuple[str, Decimal, Decimal]]) -> None:
    # Tiers are plain rows: ledger entries and cards keep their own copy of the tier in force.
    program.tiers.all().delete()
    Tier.objects.bulk_create(
        Tier(program=program, name=name, threshold=threshold, percentage=percentage)
        for name, threshold, percentage in rows
    )


def _clean_logo_into(errors: ProgramErrors, logo: Any) -> tuple[bytes, str] | None:
    if logo is None:
        return None
    try:
        return logo_clean(logo)
    except ValidationError as error:
        errors.update(error.message_dict)
        return None


def _store_logo(program: Program, logo: tuple[bytes, str]) -> str:
    """Attach a cleaned logo under a random name; returns the old file's name."""
    data, extension = logo
    old = program.logo.name or ""
    program.logo.save(f"{secrets.token_hex(12)}.{extension}", ContentFile(data), save=False)
    return old


def _delete_file_later(program: Program, name: str) -> None:
    if name:
        storage = program.logo.storage
        transaction.on_commit(lambda: storage.delete(name))


def program_create(
    *, merchant: Merchant, spec: ProgramSpec, actor: Actor, logo: Any = None
) -> Program:
    errors = program_check(merchant=merchant, spec=spec)
    logo_data = _clean_logo_into(errors, logo)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        program = Program(merchant=merchant, **_normalized(spec))
        if logo_data is not None:
            _store_logo(program, logo_data)
        program.save()
        _save_tiers(program, _tier_rows(spec))
        audit_record(
            merchant=merchant,
            actor=actor,
            action=AuditAction.PROGRAM_CREATED,
            summary=f"Created the {program.get_kind_display().lower()} program {program.name}",
            details={"program_id": program.pk},
        )
    return program


def _tiers_of(program: Program) -> list[tuple[str, Decimal, Decimal]]:
    return [(t.name, t.threshold, t.percentage) for t in program.tiers.order_by("threshold")]


def program_update(
    *,
    program: Program,
    spec: ProgramSpec,
    actor: Actor,
    logo: Any = None,
    remove_logo: bool = False,
) -> Program:
    """Change a program's rules; they apply to later entries only (history stays as it was)."""
    logo_errors: ProgramErrors = {}
    logo_data = _clean_logo_into(logo_errors, logo)
    with transaction.atomic():
        # Locked so a card issued meanwhile is seen by the "kind cannot change" check.
        locked = Program.objects.select_for_update().select_related("merchant").get(pk=program.pk)
        errors = program_check(merchant=locked.merchant, spec=spec, program=locked)
        errors.update(logo_errors)
        if errors:
            raise ValidationError(errors)
        values = _normalized(spec)
        changed = [name for name in _PROGRAM_FIELDS if getattr(locked, name) != values[name]]
        old_tiers = _tiers_of(locked)
        new_tiers = _tier_rows(spec)
        if old_tiers != new_tiers:
            changed.append("tiers")
        for name, value in values.items():
            setattr(locked, name, value)
        old_logo = ""
        if logo_data is not None:
            old_logo = _store_logo(locked, logo_data)
            changed.append("logo")
        elif remove_logo and locked.logo:
            old_logo = locked.logo.name or ""
            locked.logo = ""
            changed.append("logo")
        if not changed:
            return locked
        locked.save()
        if "tiers" in changed:
            _save_tiers(locked, new_tiers)
        _delete_file_later(locked, old_logo)
        audit_record(
            merchant=locked.merchant,
            actor=actor,
            action=AuditAction.PROGRAM_UPDATED,
            summary=f"Changed the {', '.join(_FIELD_LABELS[c] for c in changed)} of {locked.name}",
            details={"program_id": locked.pk, "changed": changed},
        )
    _copy_program(locked, program)
    return locked


def _copy_program(source: Program, target: Program) -> None:
    for field in Program._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    if hasattr(target, "_prefetched_objects_cache"):
        target._prefetched_objects_cache.pop("tiers", None)


def program_archive(*, program: Program, actor: Actor) -> Program:
    """Stop issuing cards of this program; cards already issued keep working."""
    with transaction.atomic():
        locked = Program.objects.select_for_update().select_related("merchant").get(pk=program.pk)
        if locked.archived_at is not None:
            return locked
        locked.archived_at = clock.now()
        locked.save(update_fields=["archived_at"])
        audit_record(
            merchant=locked.merchant,
            actor=actor,
            action=AuditAction.PROGRAM_ARCHIVED,
            summary=f"Archived the program {locked.name}",
            details={"program_id": locked.pk},
        )
    program.archived_at = locked.archived_at
    return locked


def program_restore(*, program: Program, actor: Actor) -> Program:
    with transaction.atomic():
        locked = Program.objects.select_for_update().select_related("merchant").get(pk=program.pk)
        if locked.archived_at is None:
            return locked
        clash = Program.objects.active().filter(
            merchant_id=locked.merchant_id, name__iexact=locked.name
        )
        if clash.exists():
            raise ValidationError(
                f"Another active program is called {locked.name}; rename it first."
            )
        locked.archived_at = None
        locked.save(update_fields=["archived_at"])
        audit_record(
            merchant=locked.merchant,
            actor=actor,
            action=AuditAction.PROGRAM_RESTORED,
            summary=f"Restored the program {locked.name}",
            details={"program_id": locked.pk},
        )
    program.archived_at = None
    return locked


# ---------------------------------------------------------------------------------------------
# Custom fields of a program's join form


def _clean_label(label: str) -> str:
    label = (label or "").strip()
    if not label:
        raise ValidationError({"label": "Enter the question customers see, e.g. Favourite drink."})
    if len(label) > 80:
        raise ValidationError({"label": "Keep the label under 80 characters."})
    return label


def _clean_choices(field_type: str, choices: list[str] | None) -> list[str]:
    if field_type != FieldType.CHOICE:
        return []
    options = [c.strip() for c in (choices or []) if c and c.strip()]
    if len(options) < 2:
        raise ValidationError({"choices": "A choice field needs at least 2 options, one per line."})
    if len(options) > MAX_CHOICES:
        raise ValidationError({"choices": f"Use at most {MAX_CHOICES} options."})
    too_long = next((o for o in options if len(o) > 80), None)
    if too_long is not None:
        raise ValidationError(
            {"choices": f"Keep each option under 80 characters: {too_long[:20]}…"}
        )
    seen: set[str] = set()
    for option in options:
        if option.casefold() in seen:
            raise ValidationError({"choices": f"The option {option} appears twice."})
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


def _lock_program(program: Program) -> Program:
    return Program.objects.select_for_update().select_related("merchant").get(pk=program.pk)


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
        raise ValidationError({"field_type": "Choose text, number, date or choice."})
    options = _clean_choices(field_type, choices)
    with transaction.atomic():
        locked = _lock_program(program)
        count = locked.custom_fields.count()
        if count >= MAX_CUSTOM_FIELDS:
            raise ValidationError(f"A join form has at most {MAX_CUSTOM_FIELDS} custom fields.")
        if _label_taken(locked, label):
            raise ValidationError({"label": f"This form already asks {label}."})
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
        program = _lock_program(field.program)
        if _label_taken(program, label, exclude_pk=field.pk):
            raise ValidationError({"label": f"This form already asks {label}."})
        field.label, field.required, field.choices = label, required, options
        field.save(update_fields=["label", "required", "choices"])
        _fields_changed(
            program, actor, f"Changed the field {label} on the join form of {program.name}"
        )
    return field


def custom_field_delete(*, field: CustomField, actor: Actor) -> None:
    """Remove the question; answers customers already gave stay on their records."""
    with transaction.atomic():
        program = _lock_program(field.program)
        field.delete()
        _renumber(list(program.custom_fields.order_by("position", "pk")))
        _fields_changed(
            program, actor, f"Removed the field {field.label} from the join form of {program.name}"
        )


def custom_field_move(*, field: CustomField, direction: str, actor: Actor) -> None:
    """Move a question one place up or down the join form."""
    if direction not in {"up", "down"}:
        raise ValidationError("Move a field up or down.")
    with transaction.atomic():
        program = _lock_program(field.program)
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
