"""R1 one person, one identity: however a document number is typed, it is one identity key; the
documents a procedure accepts; and R7's check of a declared urgency at the counter."""
import unicodedata
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.rules import identity_keys, lottery, oversight, policies
from chalicelib.rules.errors import InvalidValue

SECRET = "s"
BORN = date(1990, 1, 2)

# A digit of any script: Unicode lays each script's decimal digits out as a run 0..9, so a
# generated decimal digit minus its value is that script's zero.
any_script_zero = st.characters(categories=["Nd"]).map(lambda c: ord(c) - unicodedata.decimal(c))
# What people and copy-paste put inside a number: every Unicode space and dash, invisible format
# characters, and dots, slashes and minus signs.
separator = st.one_of(
    st.characters(categories=["Zs", "Zl", "Zp", "Pd", "Cf"]),
    st.sampled_from(list(".·‧・。/\\⁄∕−_\t\n\r．／－")),
)
separators = st.lists(separator, max_size=3).map("".join)


def spelled(canonical, data):
    """`canonical` (ASCII) with each digit written in a script drawn by hypothesis, letters in
    lower case or fullwidth at random, and separators anywhere."""
    out = [data.draw(separators)]
    for ch in canonical:
        if ch.isdigit():
            ch = chr(data.draw(any_script_zero) + int(ch))
        else:
            ch = data.draw(st.sampled_from([ch, ch.lower(), chr(ord(ch) + 0xFEE0), chr(ord(ch.lower()) + 0xFEE0)]))
        out += [ch, data.draw(separators)]
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(number=st.text(alphabet="0123456789", min_size=10, max_size=10), data=st.data())
def test_an_agdref_number_in_any_digit_script_with_any_separators_is_one_identity(number, data):
    typed = spelled(number, data)
    assert identity_keys.normalise_document("agdref", typed) == number
    assert identity_keys.identity_key(SECRET, "agdref", typed, BORN) == identity_keys.identity_key(SECRET, "agdref", number, BORN)


@settings(max_examples=300, deadline=None)
@given(number=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=6, max_size=12),
       doc_type=st.sampled_from(["passport", "visa"]), data=st.data())
def test_a_travel_document_number_however_typed_is_one_identity(number, doc_type, data):
    typed = spelled(number, data)
    assert identity_keys.normalise_document(doc_type, typed) == number
    # Passports and visas are one identity space.
    assert identity_keys.identity_key(SECRET, doc_type, typed, BORN) == identity_keys.identity_key(SECRET, "passport", number, BORN)


def _stays_foreign(ch):
    """Still a non-ASCII letter after NFKC (not, like 'Ŀ', an ASCII letter and a middle dot)."""
    return any(not c.isascii() and unicodedata.category(c).startswith("L") for c in unicodedata.normalize("NFKC", ch))


@settings(max_examples=300, deadline=None)
@given(number=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=6, max_size=10),
       letter=st.characters(categories=["L"]).filter(_stays_foreign), at=st.integers(0, 10),
       doc_type=st.sampled_from(identity_keys.DOCUMENT_TYPES))
def test_a_letter_outside_the_format_is_refused_naming_the_number(number, letter, at, doc_type):
    typed = number[:at] + letter + number[at:]
    with pytest.raises(InvalidValue) as info:
        identity_keys.normalise_document(doc_type, typed)
    assert info.value.concept == "document_number"


def test_the_fullwidth_arabic_indic_and_devanagari_spellings_of_a_number_are_the_ascii_one():
    ascii_key = identity_keys.identity_key(SECRET, "agdref", "1234567890", BORN)
    for typed in ("１２３４５６７８９０", "١٢٣٤٥٦٧٨٩٠", "۱۲۳۴۵۶۷۸۹۰", "१२३४५६७८९०", "１２３ ٤٥٦–७८९\u200b0", "12\u00a034\u202f56.78/90"):
        assert identity_keys.identity_key(SECRET, "agdref", typed, BORN) == ascii_key, typed


@pytest.mark.parametrize("typed", [
    "AB12345ß",  # upper-cased it would be ...SS: another spelling of another number
    "AB1234ı5",  # dotless i upper-cases to I
    "AВ123456",  # a Cyrillic В that looks Latin
    "AB123456é",
    "AB12\u0301345",  # a combining accent
    "AB1234５6\u3000Ω",
])
def test_characters_that_would_pass_for_ascii_after_upper_casing_or_at_a_glance_are_refused(typed):
    with pytest.raises(InvalidValue) as info:
        identity_keys.normalise_document("passport", typed)
    assert info.value.concept == "document_number"


def test_a_normalised_number_is_still_checked_against_its_format():
    for typed in ("123456789", "12345678901", "１２３４５６７８９", "AB12345678", "1" * 10_000):
        with pytest.raises(InvalidValue):
            identity_keys.normalise_document("agdref", typed)
    assert identity_keys.normalise_document("agdref", "12345⑥7890\n") == "1234567890"  # NFKC; a newline is a separator


# --- accepted documents ----------------------------------------------------------------------

def test_a_policy_accepts_every_document_unless_it_says_otherwise():
    assert policies.Policy().accepted_documents == ("agdref", "passport", "visa")
    only = policies.policy_with(policies.Policy(), {"accepted_documents": ["visa", "agdref"]})
    assert only.accepted_documents == ("agdref", "visa")  # one order, so equal sets compare equal
    assert policies.policy_with(only, only.as_dict()) == only


@pytest.mark.parametrize("bad", [[], "agdref", ["id_card"], ["agdref", "agdref"], [1], None, {"agdref": True}])
def test_accepted_documents_must_be_a_non_empty_set_of_known_types(bad):
    with pytest.raises(InvalidValue) as info:
        policies.policy_with(policies.Policy(), {"accepted_documents": bad})
    assert info.value.concept == "accepted_documents"


def test_a_document_the_procedure_does_not_accept_is_refused_naming_the_accepted_ones():
    renewal = policies.policy_with(policies.Policy(), {"accepted_documents": ["agdref"]})
    identity_keys.check_accepted_document("agdref", renewal)
    with pytest.raises(InvalidValue) as info:
        identity_keys.check_accepted_document("passport", renewal)
    assert info.value.concept == "document_type"
    assert "agdref" in info.value.message and "passport" not in info.value.message


def test_renewal_accepts_only_agdref_by_configuration(monkeypatch):
    from chalicelib.platform import config
    from chalicelib.usecases import site_catalog

    assert site_catalog.default_policy("renewal").accepted_documents == ("agdref",)
    assert site_catalog.default_policy("first_application").accepted_documents == ("agdref", "passport", "visa")
    monkeypatch.setenv("DEFAULT_ACCEPTED_DOCUMENTS", "agdref,passport")
    monkeypatch.setenv("DEFAULT_ACCEPTED_DOCUMENTS_BY_PROCEDURE", "renewal:agdref ; student:passport|visa")
    loaded = config.current()
    assert loaded.policy_defaults["accepted_documents"] == ("agdref", "passport")
    assert loaded.procedure_policy_defaults == {"renewal": {"accepted_documents": ("agdref",), "identity_check": "registry"},
                                                "student": {"accepted_documents": ("passport", "visa")}}
    assert site_catalog.default_policy("student").accepted_documents == ("passport", "visa")
    assert site_catalog.default_policy("first_application").accepted_documents == ("agdref", "passport")


# --- R7: declared urgency at the counter ------------------------------------------------------

DRAW_DAY = date(2026, 3, 1)


def test_a_booking_not_won_as_urgent_has_no_urgency_to_check():
    for tier in (None, 2):
        assert lottery.declared_urgency_holds(tier, DRAW_DAY, None)
        assert lottery.declared_urgency_holds(tier, DRAW_DAY, DRAW_DAY + timedelta(days=900))


def test_an_urgent_booking_holds_only_if_the_real_permit_expires_within_the_tier_at_the_draw():
    within = DRAW_DAY + timedelta(days=lottery.URGENT_PERMIT_DAYS)
    assert lottery.declared_urgency_holds(1, DRAW_DAY, within)
    assert lottery.declared_urgency_holds(1, DRAW_DAY, DRAW_DAY - timedelta(days=3))  # already expired
    assert not lottery.declared_urgency_holds(1, DRAW_DAY, within + timedelta(days=1))
    assert not lottery.declared_urgency_holds(1, DRAW_DAY, DRAW_DAY + timedelta(days=700))


def test_an_urgent_booking_needs_the_expiry_read_on_the_permit():
    with pytest.raises(InvalidValue) as info:
        lottery.declared_urgency_holds(1, DRAW_DAY, None)
    assert info.value.concept == "permit_expiry"
    # the rule names the value, not where a body carries it; the check-in route says permit_expires_on
    assert "permit_expires_on" not in info.value.message and "permit_expiry" in info.value.message
    assert info.value.named({"permit_expiry": "permit_expires_on"}.get) == (
        "This booking was won in the urgent tier: permit_expires_on, the expiry read on the permit, is required.")


@settings(max_examples=200, deadline=None)
@given(declared=st.dates(), real=st.dates(), draw_day=st.dates())
def test_the_counter_agrees_with_the_draw_on_an_honest_declaration(declared, real, draw_day):
    """Whatever was declared, the check is the draw's own tier rule applied to the real permit."""
    tier = lottery.request_tier(declared, draw_day)
    holds = lottery.declared_urgency_holds(tier, draw_day, real)
    assert holds == (tier == 2 or lottery.request_tier(real, draw_day) == 1)
    if real == declared:
        assert holds


def test_a_false_urgency_refuses_the_appointment_and_is_reported():
    assert oversight.check_in_status(True, urgency_holds=True) == "attended"
    assert oversight.check_in_status(True, urgency_holds=False) == "refused"
    assert oversight.check_in_status(False, urgency_holds=True) == "refused"
    details = {"booking_id": "bkg_1", "declared_permit_expires_on": "2026-03-20", "read_permit_expires_on": "2027-01-01"}
    summary = oversight.summarize_signals([{"kind": "false_urgency", "subject": "bkg_1", "details": details}])
    assert summary["false_urgency"] == [details]
    assert summary["checkin_mismatches"] == []


def test_identity_check_defaults_to_the_registry_for_renewals_and_the_contact_elsewhere():
    from chalicelib.usecases import site_catalog

    assert site_catalog.default_policy("renewal").identity_check == "registry"
    assert site_catalog.default_policy("first_application").identity_check == "contact"
    assert policies.policy_with(policies.Policy(), {"identity_check": "none"}).identity_check == "none"
    with pytest.raises(InvalidValue) as info:
        policies.policy_with(policies.Policy(), {"identity_check": "maybe"})
    assert info.value.concept == "identity_check"


def test_identity_check_defaults_are_configurable(monkeypatch):
    from chalicelib.usecases import site_catalog

    monkeypatch.setenv("DEFAULT_IDENTITY_CHECK", "none")
    monkeypatch.setenv("DEFAULT_IDENTITY_CHECK_BY_PROCEDURE", "renewal:contact;student:registry")
    assert site_catalog.default_policy("renewal").identity_check == "contact"
    assert site_catalog.default_policy("student").identity_check == "registry"
    assert site_catalog.default_policy("other").identity_check == "none"
