"""``@email`` mentions in comment text.

A mention is ``@`` followed by an email address, at the start of the text or after a
character that cannot end an address (so ``bob@x.com`` alone is an address, not a
mention of ``x.com``). Trailing punctuation (``@ann@x.com.``) is not part of it.
Addresses are compared in the form accounts are stored in
(:func:`minibase.domain.emails.fold_email`: NFKC, case-folded). Which mentions name
members is the service's business: the rest stays plain text.
"""

from __future__ import annotations

import re

from minibase.domain.emails import fold_email

MAX_MENTIONS = 50
"""At most this many distinct addresses are read from one text."""

_PART = r"[^\s@<>()\[\]{},;:\"']"
_MENTION = re.compile(r"(?:^|(?<=[\s(\[{<,;:!?\"']))@(" + _PART + "{1,64}@" + _PART + "{1,255})")
_TRAILING = ".!?'\""


def mentioned_emails(text: str) -> list[str]:
    """The distinct addresses mentioned in ``text``, in order of first appearance."""
    found: dict[str, None] = {}
    for match in _MENTION.finditer(text):
        address = fold_email(match.group(1).rstrip(_TRAILING))
        local, _, domain = address.partition("@")
        if not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
            continue
        found.setdefault(address, None)
        if len(found) >= MAX_MENTIONS:
            break
    return list(found)
