"""What a text field may hold (SPEC §5: every input checked before it is stored or shown).

One rule for every text a client sends, applied by the contract's text type
(chalicelib/http/schema.py::Text): a name, an address or an id is stored in DynamoDB, printed in
e-mails and shown on the counter's day list, so it must be text that can be stored and shown as
written. Refused:

- lone surrogates (category Cs): not Unicode text at all; DynamoDB refuses the item, and a
  transaction carrying one is cancelled;
- control characters (Cc: NUL, escape, tab, line breaks...) and line or paragraph separators (Zl,
  Zp): no field is multi-line, and a NUL or an escape sequence reaches logs and terminals;
- bidirectional embeddings, overrides and isolates (U+202A..U+202E, U+2066..U+2069): they
  reorder what follows them, so a name could read as another one on a screen or in an e-mail.

Everything else is accepted, invisible joiners included (Persian and Indic names need U+200C and
U+200D); identity_keys.normalise_document drops those from document numbers itself.
"""
import unicodedata

REFUSED_CATEGORIES = frozenset({"Cs", "Cc", "Zl", "Zp"})
REFUSED_BIDI_CLASSES = frozenset({"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})


def refused_character(text: str) -> str | None:
    """The first character of `text` that a text field may not hold, or None."""
    for char in text:
        if unicodedata.category(char) in REFUSED_CATEGORIES or unicodedata.bidirectional(char) in REFUSED_BIDI_CLASSES:
            return char
    return None


def describe(char: str) -> str:
    """U+202E, as a refusal names the character (printing it would do what it was refused for)."""
    return f"U+{ord(char):04X}"
