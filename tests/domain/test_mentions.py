"""``@email`` mentions: where they start and end, and the form they are compared in."""

from __future__ import annotations

from minibase.domain.emails import normalize_email
from minibase.domain.mentions import MAX_MENTIONS, mentioned_emails


def test_where_mentions_start_and_end() -> None:
    text = "@ann@x.com, (@bob@y.org) mail carl@z.com; cc @dora@w.io. @bad@nodot @e@f."
    assert mentioned_emails(text) == ["ann@x.com", "bob@y.org", "dora@w.io"]


def test_addresses_compare_as_accounts_are_stored() -> None:
    # Accounts are stored NFKC-normalized and case-folded: so are mentions.
    stored = normalize_email("Straße@Example.COM")
    assert mentioned_emails("hi @STRASSE@example.com and @straße@EXAMPLE.com") == [stored]
    full_width = "@\uff41\uff4e\uff4e@example.com"  # full-width letters are the plain ones
    assert mentioned_emails(full_width) == [normalize_email("ann@example.com")]


def test_at_most_so_many_and_each_once() -> None:
    many = " ".join(f"@u{i}@x.com" for i in range(MAX_MENTIONS + 10))
    assert len(mentioned_emails(many)) == MAX_MENTIONS
    assert mentioned_emails("@a@x.com @A@X.COM") == ["a@x.com"]
