"""Words of a user's text, for search queries and for overlap scoring: one tokenizer, one stopword list.

A term is a run of letters and digits (Unicode-aware; underscores and punctuation separate terms), folded to
lower case. Because a term can hold no quote, operator character or whitespace, a list of terms can be put
into any full-text query syntax without escaping surprises.
"""

from __future__ import annotations

import re

MAX_QUERY_TERMS = 32
"""A query uses at most this many distinct terms (the first ones), to bound the cost of one search."""

_STOPWORD_TEXT = """
a about all am an and any are as at be been but by can could did do does for from had has have how i
if in into is it its me my no not of on or our please should so than that the their them then there
these they this those to us was we were what when where which who whom why will with would you your
"""

STOPWORDS = frozenset(_STOPWORD_TEXT.split())
"""Words too common to rank by: "what is the refund policy" searches for "refund policy"."""

_TERM = re.compile(r"[^\W_]+")


def terms(text: str) -> list[str]:
    """Every term of ``text``, lower-cased, in order, repeats kept."""
    return [match.group(0).lower() for match in _TERM.finditer(text)]


def content_terms(text: str, *, limit: int = MAX_QUERY_TERMS) -> list[str]:
    """The distinct non-stopword terms of ``text``, in order of first appearance, at most ``limit``."""
    seen: dict[str, None] = {}
    for term in terms(text):
        if term not in STOPWORDS and term not in seen:
            seen[term] = None
            if len(seen) >= limit:
                break
    return list(seen)
