"""R10's pure rules: one-time codes, lock keys, registry matching, which refusal a code gets."""
import random
from datetime import date

from chalicelib.rules import proofs, refusals, registry_entries
from chalicelib.rules.identity_keys import Document
from chalicelib.rules.proofs import Verification
from chalicelib.rules.registry_entries import RegistryEntry


def test_a_code_is_six_digits_leading_zeros_kept_and_uniform_enough():
    rng = random.Random(7)
    codes = [proofs.new_code(rng) for _ in range(5000)]
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert any(c.startswith("0") for c in codes)
    assert len(set(codes)) > 4900


def test_a_code_is_read_without_spaces_and_only_in_ascii_digits():
    assert proofs.well_formed_code(" 042 137 ") == "042137"
    assert proofs.well_formed_code("٠٤٢١٣٧") is None  # Arabic-Indic digits: not what was sent
    assert proofs.well_formed_code("04213") is None and proofs.well_formed_code("0421377") is None


def test_codes_compare_in_constant_time_on_their_digests():
    assert proofs.codes_match("ab" * 32, "ab" * 32) and not proofs.codes_match("ab" * 32, "ac" * 32)
    assert proofs.code_message("vrf_1", "123456") != proofs.code_message("vrf_2", "123456")


def test_lock_keys_separate_the_registry_a_mailbox_and_the_unproven():
    identity = "f" * 64
    registry = proofs.lock_key(identity, "registry", "a@example.org")
    mine = proofs.lock_key(identity, "contact", "a@example.org")
    theirs = proofs.lock_key(identity, "contact", "attacker@example.net")
    unproven = proofs.lock_key(identity, "none", "a@example.org")
    assert registry == identity
    assert len({registry, mine, theirs, unproven}) == 4
    assert proofs.lock_key(identity, "contact", "A@Example.org") == mine
    assert set(proofs.lock_key_candidates(identity, "a@example.org")) == {registry, mine, unproven}


def test_the_registry_matches_number_birth_date_and_family_name_as_people_write_them():
    entry = RegistryEntry("agdref", "75 0123 4567", "1988-04-12", "N'Guyen-Thị", "a@example.org")
    document = Document("agdref", "7501234567")
    assert registry_entries.matches(entry, document, date(1988, 4, 12), "nguyen thi")
    assert registry_entries.matches(entry, document, date(1988, 4, 12), "NGUYEN-THI")
    assert not registry_entries.matches(entry, document, date(1988, 4, 13), "Nguyen Thi")
    assert not registry_entries.matches(entry, document, date(1988, 4, 12), "Trafiquant")
    assert not registry_entries.matches(None, document, date(1988, 4, 12), "Nguyen Thi")
    assert registry_entries.masked("amina.benali@example.org") == "a***@example.org"


def test_one_person_is_one_key_per_procedure_whatever_the_spelling():
    key = registry_entries.person_key("s", "Benali", date(1988, 4, 12), "first_application")
    assert registry_entries.person_key("s", "BENALI ", date(1988, 4, 12), "first_application") == key
    assert registry_entries.person_key("s", "Benali", date(1988, 4, 12), "student") != key


def _verification(**changes):
    values = {"verification_id": "vrf_1", "site_id": "s", "procedure_id": "renewal", "lock_key": "k", "code_digest": "d",
              "expires_at": 1000.0, "destination": "a***@example.org", "tries": 0, "used": False, **changes}
    return Verification(**values)


def test_which_refusal_a_code_gets():
    assert refusals.code_refusal(None, 0).code == "verification_not_found"
    assert refusals.code_refusal(_verification(), 999) is None
    assert refusals.code_refusal(_verification(), 1000).code == "verification_expired"
    assert refusals.code_refusal(_verification(used=True), 10).code == "verification_expired"
    locked = refusals.code_refusal(_verification(tries=proofs.MAX_TRIES), 400)
    assert locked.code == "verification_locked" and locked.retry_after == 600
