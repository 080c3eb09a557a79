"""The applicant e-mail rule (chalicelib/rules/email_address.py): only addresses SES can send to get in."""
import pytest

from chalicelib.rules.email_address import canonical


@pytest.mark.parametrize("address, stored", [
    ("jane@example.org", "jane@example.org"),
    ("Jane.Doe+rdv@Example.ORG", "jane.doe+rdv@example.org"),
    ("d'artagnan@mousquetaires.fr", "d'artagnan@mousquetaires.fr"),
    ("x@sub-domain.example.co.uk", "x@sub-domain.example.co.uk"),
    ("marie@préfecture.fr", "marie@xn--prfecture-c4a.fr"),
    ("a" * 64 + "@" + "b" * 63 + ".fr", "a" * 64 + "@" + "b" * 63 + ".fr"),
])
def test_addresses_ses_sends_to_are_accepted_in_their_ascii_form(address, stored):
    assert canonical(address) == stored


@pytest.mark.parametrize("address", [
    "jane@example.org\x00", "ja\x07ne@example.org", "jane\r\n@example.org", "ja\tne@example.org",
    "jane@exa\x7fmple.org",
    "jane,john@example.org", "jane@example.org,john@example.org", "jane:x@example.org", "jane;x@example.org",
    "<jane@example.org>", "Jane <jane@example.org>", '"jane"@example.org', "ja`ne@example.org",
    "jane doe@example.org", "jane@ example.org",
    "jane", "jane@", "@example.org", "jane@@example.org", "jane@x@example.org",
    "jane@localhost", "jane@example", "jane@example.123", "jane@-example.org", "jane@example-.org",
    "jane@exa_mple.org", "jane@example..org", "jane@.example.org", "jane@example.org.",
    ".jane@example.org", "jane.@example.org", "ja..ne@example.org",
    "é@example.org", "jane@" + "b" * 64 + ".fr", "a" * 65 + "@example.org",
    "a@" + ".".join(["b" * 60] * 5) + ".fr", "",
])
def test_addresses_ses_would_refuse_are_refused(address):
    with pytest.raises(ValueError):
        canonical(address)


def test_a_domain_that_idna_cannot_encode_is_refused():
    with pytest.raises(ValueError, match="IDNA"):
        canonical("jane@" + "\u0080" * 3 + ".fr")
