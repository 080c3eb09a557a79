"""One key per purpose, each a ring of versions (chalicelib/platform/keys.py; docs/deploy.md, "Secrets and keys")."""
import pytest

from chalicelib.platform import config, keys, parameters
from chalicelib.platform.config import ConfigurationError
from chalicelib.platform.tokens import booking_token, link_token, link_token_matches, version_of


def test_hkdf_is_rfc_5869_sha256():
    """RFC 5869, appendix A.1 (test case 1)."""
    okm = keys.hkdf_sha256(bytes.fromhex("0b" * 22), bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"), 42,
                           salt=bytes.fromhex("000102030405060708090a0b0c"))
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                         "34007208d5b887185865")


def test_every_purpose_has_its_own_variable_and_key():
    assert tuple(p.variable for p in keys.PURPOSES) == config.KEY_VARIABLES
    assert len({p.name for p in keys.PURPOSES}) == len(keys.PURPOSES)
    derived = {keys.ring(p).secret for p in keys.PURPOSES}  # from the tests' KEY_ROOT
    assert len(derived) == len(keys.PURPOSES) and all(len(s) == 64 for s in derived)  # 256 bits each


def test_a_ring_lists_versions_the_signing_one_first():
    ring = keys.parse(keys.LINKS, "2:new-secret, 1:old-secret")
    assert (ring.version, ring.secret) == (2, "new-secret")
    assert ring.secret_of(1) == "old-secret" and ring.secret_of(3) is None
    bare = keys.parse(keys.LINKS, "a-secret-without-version")
    assert (bare.version, bare.secret) == (1, "a-secret-without-version")


@pytest.mark.parametrize("text", ["", "2:SEKRET SEKRET2", "1:SEKRET 1:SEKRET2", "0:SEKRET", "x:SEKRET 1:SEKRET2"])
def test_a_malformed_ring_is_refused_without_naming_its_secrets(text):
    with pytest.raises(ConfigurationError) as refused:
        keys.parse(keys.LINKS, text)
    assert "SEKRET" not in str(refused.value)


@pytest.mark.parametrize("purpose", [keys.IDENTITIES, keys.SLOT_IDS])
def test_identity_and_slot_id_keys_refuse_a_second_version(purpose):
    """They must not rotate (docs/deploy.md says why): an operator cannot half-rotate them."""
    assert keys.parse(purpose, "1:only").version == 1
    with pytest.raises(ConfigurationError, match="does not rotate"):
        keys.parse(purpose, "2:new 1:old")


def test_a_link_token_names_its_version_and_opens_while_that_version_is_listed():
    old, both, new_signs, retired = (keys.parse(keys.LINKS, t) for t in ("1:old", "1:old 2:new", "2:new 1:old", "2:new"))
    v1 = link_token(old, "booking", "bkg_1")
    assert link_token(both, "booking", "bkg_1") == v1  # accepting v2 changes nothing yet
    v2 = link_token(new_signs, "booking", "bkg_1")
    assert v2.startswith("v2_") and v2 != v1
    assert link_token_matches(new_signs, "booking", "bkg_1", v1) and link_token_matches(new_signs, "booking", "bkg_1", v2)
    assert link_token_matches(both, "booking", "bkg_1", v2)  # a function still signing with v1 accepts v2
    assert not link_token_matches(retired, "booking", "bkg_1", v1)
    assert link_token_matches(retired, "booking", "bkg_1", v2)
    assert not link_token_matches(retired, "booking", "bkg_1", "v1_" + v2[3:])  # the version is checked, not trusted


def test_a_bare_token_is_version_1_whatever_it_starts_with():
    assert version_of("v3_" + "A" * 40) == (1, "v3_" + "A" * 40)  # 43 characters: a version-1 MAC
    assert version_of("v3_" + "A" * 43) == (3, "A" * 43)
    assert version_of("v3_short") == (0, "")


def test_a_booking_token_depends_on_the_hold_token_alone():
    assert booking_token("hold-token") == booking_token("hold-token") != booking_token("other")
    assert len(booking_token("hold-token")) == 43


def test_a_parameter_is_read_on_first_use_then_once_per_cache_period(monkeypatch):
    reads = []
    monkeypatch.setattr(parameters, "read", lambda name: reads.append(name) or "1:from-ssm")
    monkeypatch.delenv("CURSOR_KEY", raising=False)
    monkeypatch.setenv("CURSOR_KEY_PARAM", "/fairslot/test/keys/cursors")
    keys.forget()
    assert reads == []  # nothing at import or on forget
    assert keys.ring(keys.CURSORS).secret == "from-ssm" and keys.ring(keys.CURSORS).secret == "from-ssm"
    assert reads == ["/fairslot/test/keys/cursors"]
    monkeypatch.setenv("KEY_CACHE_SECONDS", "0")  # a rotation step reaches a warm function once its period is over
    keys.forget()
    keys.ring(keys.CURSORS), keys.ring(keys.CURSORS)
    assert len(reads) == 3
    keys.forget()


def test_in_aws_every_key_comes_from_its_parameter(monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "fairslot-test-APIHandler")
    monkeypatch.setenv("FAIRSLOT_LOCAL", "0")
    for name in ("STAFF_JWKS_URL", "STAFF_JWT_ISSUER", "STAFF_JWT_AUDIENCE", "CORS_ORIGINS"):
        monkeypatch.setenv(name, "https://example.org")
    with pytest.raises(ConfigurationError, match="LINK_KEY_PARAM"):
        keys.ring(keys.LINKS)  # KEY_ROOT (set for the tests) is never used in AWS
