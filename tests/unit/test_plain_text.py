"""One rule for what a text field may hold (chalicelib/rules/plain_text.py), checked by property
over Unicode's categories, and applied by the contract's text type to every text field."""
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.http import contract
from chalicelib.http.schema import Obj, Schema, Text
from chalicelib.rules import plain_text
from chalicelib.rules.errors import InvalidField

OVERRIDES = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
ALL_CATEGORIES = ("Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf",
                  "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn")
SHOWN_CATEGORIES = tuple(c for c in ALL_CATEGORIES if c not in plain_text.REFUSED_CATEGORIES)


def _shown(char):
    return unicodedata.bidirectional(char) not in plain_text.REFUSED_BIDI_CLASSES


@given(st.text(st.characters(categories=SHOWN_CATEGORIES).filter(_shown), min_size=1))
def test_text_of_any_other_category_is_accepted(text):
    assert plain_text.refused_character(text) is None


@given(st.text(st.characters(categories=SHOWN_CATEGORIES).filter(_shown)),
       st.characters(categories=tuple(plain_text.REFUSED_CATEGORIES)) | st.sampled_from(OVERRIDES),
       st.text(st.characters(categories=SHOWN_CATEGORIES).filter(_shown)))
def test_a_surrogate_a_control_character_or_a_bidi_override_anywhere_is_refused(before, refused, after):
    assert plain_text.refused_character(before + refused + after) == refused


def test_the_named_cases():
    for char in ("\ud800", "\udfff", "\x00", "\x1b", "\t", "\n", "\x7f", "\u2028", "\u202e", "\u2066", "\u2069"):
        assert plain_text.refused_character(f"Durand{char}") == char, repr(char)
    for text in ("Durand", "N'Diaye", "Nguyễn", "محمد", "דוד", "علی\u200cرضا", "क्\u200dष", "Zoë-Anne"):
        assert plain_text.refused_character(text) is None, text


@given(st.characters(categories=tuple(plain_text.REFUSED_CATEGORIES)) | st.sampled_from(OVERRIDES))
def test_every_text_field_of_the_contract_refuses_them_naming_the_field(refused):
    """Every Text of every body of the contract: 422 naming the dotted field."""
    for name, field in _text_fields():
        try:
            field.parse(f"ab{refused}cd", name)
        except InvalidField as exc:
            assert exc.details["field"] == name and plain_text.describe(refused) in exc.message, (name, exc.message)
        else:
            raise AssertionError(f"{name} accepted {plain_text.describe(refused)}")


def _text_fields():
    found = []

    def walk(schema, name):
        if isinstance(schema, Text):
            found.append((name, schema))
        for field, sub in (getattr(schema, "fields", None) or {}).items() if isinstance(schema, Obj) else ():
            walk(sub, f"{name}.{field}" if name else field)
        if isinstance(getattr(schema, "item", None), Schema):
            walk(schema.item, f"{name}[]")

    for operation in contract.OPERATIONS:
        if operation.body is not None:
            walk(operation.body, "")
        for field, schema in (operation.query or {}).items():
            walk(schema, field)
    assert len({n for n, _ in found}) >= 10, found
    return found

