"""Email addresses as account keys: one normal form, so one person is one account.

An address is normalized with Unicode NFKC (so ``café`` typed composed or decomposed,
or a full-width letter or at sign (U+FF41, U+FF20), is the plain character) and then
case-folded (so ``Me@Example.COM`` and ``me@example.com`` are one address). Invisible
characters (zero-width spaces and joiners, bidirectional marks, soft hyphens, control
characters, unassigned code points) are refused: they would make two accounts that look
alike to people.
"""

from __future__ import annotations

import re
import unicodedata

from minibase.errors import ValidationFailed

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$"
MAX_EMAIL_LENGTH = 320

_SHAPE = re.compile(EMAIL_PATTERN)
_INVISIBLE = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp", "Zs"})


def fold_email(raw: str) -> str:
    """NFKC, trimmed, case-folded: the key an address is stored and looked up by."""
    return unicodedata.normalize("NFKC", raw).strip().casefold()


def invisible_characters(text: str) -> list[str]:
    """The invisible or control characters in ``text``, as ``U+XXXX``."""
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in _INVISIBLE]


def normalize_email(raw: str, field: str = "email") -> str:
    """The normal form of a new address, or :class:`ValidationFailed` (422)."""
    email = fold_email(raw)
    hidden = invisible_characters(email)
    if hidden:
        message = f"The email address holds invisible characters ({', '.join(hidden[:5])})."
        raise ValidationFailed(
            [{"field": field, "message": message, "type": "invisible_character"}], message
        )
    if len(email) > MAX_EMAIL_LENGTH or not _SHAPE.match(email):
        message = "Not an email address."
        raise ValidationFailed([{"field": field, "message": message, "type": "email"}], message)
    return email
