"""The applicant e-mail rule (chalicelib/rules/email_address.py): only addresses SES can send to get in;
the web app checks the same rule (email_address.PATTERN, carried by web/src/contract.js)."""
import json
import re
import shutil
import string
import subprocess

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib.rules.email_address import PATTERN, canonical

ACCEPTED = ["jane@example.org", "Jane.Doe+rdv@Example.ORG", "d'artagnan@mousquetaires.fr", "x@sub-domain.example.co.uk",
            "marie@préfecture.fr", "a" * 64 + "@" + "b" * 63 + ".fr", "x@xn--prfecture-c4a.fr", "x@1.2.3.fr4"]


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


def _accepted(address):
    try:
        canonical(address)
    except ValueError:
        return False
    return True


_ASCII_PARTS = st.sampled_from(["a", "Z", "0", "9", ".", "-", "@", "_", "+", "'", '"', " ", ",", "\t", "\n", "é", "x" * 60,
                                "example", "org", "..", "@@", "\x7f", "<", ">", ";", "1", "-x-"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_ASCII_PARTS, max_size=12).map("".join))
@example("jane@example.org")
@example("a" * 64 + "@" + "b" * 63 + ".fr")
def test_the_pattern_the_web_app_checks_is_the_server_s_rule_on_ascii_addresses(address):
    if address.isascii():
        assert bool(re.fullmatch(PATTERN, address)) == _accepted(address), address
    elif _accepted(address):  # a non-ASCII domain: the server's IDNA decides, the pattern lets it through
        assert re.fullmatch(PATTERN, address), address


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.printable, max_size=80))
def test_the_pattern_agrees_with_the_rule_on_any_printable_text(address):
    assert bool(re.fullmatch(PATTERN, address)) == _accepted(address), address


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_reads_the_pattern_as_python_does():
    """The web app runs PATTERN as a JavaScript RegExp: both engines give the same answers."""
    refused = ["jane", "jane@example", "jane@example.123", "ja..ne@example.org", ".jane@example.org", "jane@exa_mple.org",
               "a" * 65 + "@example.org", "jane@-example.org", "jane@example.org\n", '"jane"@example.org', "é@example.org"]
    addresses = ACCEPTED + refused
    script = ("const [p, xs] = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "console.log(JSON.stringify(xs.map((x) => new RegExp(p).test(x))));")
    out = subprocess.run(["node", "-e", script], input=json.dumps([PATTERN, addresses]), capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [bool(re.fullmatch(PATTERN, x)) for x in addresses] == [x in ACCEPTED for x in addresses]
