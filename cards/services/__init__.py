"""Every write to a card and a program: the only code that changes balances.

- ``ledger``: every balance change, through one locked, validated, idempotent path
  (``card_apply`` runs an action of the table in ``cards.actions``).
- ``lifecycle``: issuing, installing, expiring and deleting cards, emailing and replacing
  their link.
- ``programs``: programs and their rules and tiers (settings).
- ``logos``: a program's logo, checked and stored.
- ``custom_fields``: the questions of a program's join form.
- ``guards``: the counter's double-scan warning and daily caps, checked under the card's lock.
- ``reversals``: undoing one entry with a compensating entry linked to it.
- ``activity``: the audit of the team's activity CSV.

Callers import from ``cards.services``; the split is an implementation detail.
"""

from __future__ import annotations

from cards.services.activity import activity_export_record
from cards.services.custom_fields import (
    MAX_CHOICES,
    MAX_CUSTOM_FIELDS,
    RESERVED_FIELD_KEYS,
    custom_field_create,
    custom_field_delete,
    custom_field_move,
    custom_field_update,
)
from cards.services.guards import CapReached, RepeatSuspected
from cards.services.ledger import (
    LedgerResult,
    card_add_points,
    card_add_rewards,
    card_add_stamps,
    card_add_transaction_amount,
    card_apply,
    card_check_open,
    card_credit_welcome_bonus,
    card_lock,
    card_redeem_rewards,
    card_remove_points,
    card_remove_stamps,
    card_subtract_transaction_amount,
    card_write_off_visits,
    ledger_append,
)
from cards.services.lifecycle import (
    CONFIRM_PARAMETER,
    UTM_KEYS,
    Holder,
    LinkReason,
    LinkRotation,
    card_confirm_email,
    card_delete,
    card_history_export_record,
    card_issue,
    card_mark_installed,
    card_mark_removed,
    card_rotate_link,
    card_send_link,
    card_set_expiration,
)
from cards.services.logos import MAX_LOGO_BYTES, contrast_ratio, logo_clean
from cards.services.programs import (
    MAX_BONUS_STAMPS,
    MAX_STAMPS_PER_REWARD,
    MAX_STAMPS_PER_VISIT,
    MAX_TIERS,
    MAX_VALID_DAYS,
    ProgramErrors,
    ProgramSpec,
    TierSpec,
    program_archive,
    program_check,
    program_create,
    program_restore,
    program_update,
)
from cards.services.reversals import NOT_REVERSIBLE, entry_reverse, reversal_refusal

__all__ = [
    "CONFIRM_PARAMETER",
    "MAX_BONUS_STAMPS",
    "MAX_CHOICES",
    "MAX_CUSTOM_FIELDS",
    "MAX_LOGO_BYTES",
    "MAX_STAMPS_PER_REWARD",
    "MAX_STAMPS_PER_VISIT",
    "MAX_TIERS",
    "MAX_VALID_DAYS",
    "NOT_REVERSIBLE",
    "RESERVED_FIELD_KEYS",
    "UTM_KEYS",
    "CapReached",
    "Holder",
    "LedgerResult",
    "LinkReason",
    "LinkRotation",
    "ProgramErrors",
    "ProgramSpec",
    "RepeatSuspected",
    "TierSpec",
    "activity_export_record",
    "card_add_points",
    "card_add_rewards",
    "card_add_stamps",
    "card_add_transaction_amount",
    "card_apply",
    "card_check_open",
    "card_confirm_email",
    "card_credit_welcome_bonus",
    "card_delete",
    "card_history_export_record",
    "card_issue",
    "card_lock",
    "card_mark_installed",
    "card_mark_removed",
    "card_redeem_rewards",
    "card_remove_points",
    "card_remove_stamps",
    "card_rotate_link",
    "card_send_link",
    "card_set_expiration",
    "card_subtract_transaction_amount",
    "card_write_off_visits",
    "contrast_ratio",
    "custom_field_create",
    "custom_field_delete",
    "custom_field_move",
    "custom_field_update",
    "entry_reverse",
    "ledger_append",
    "logo_clean",
    "program_archive",
    "program_check",
    "program_create",
    "program_restore",
    "program_update",
    "reversal_refusal",
]
