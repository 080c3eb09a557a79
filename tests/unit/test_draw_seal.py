"""A committed seed is sealed for its own draw: it opens there only, and an altered one does not open."""
import secrets

import pytest

from chalicelib.platform import draw_seal


def test_a_sealed_seed_opens_for_its_draw_and_shows_nothing_of_the_seed():
    seed = secrets.token_hex(32)
    sealed = draw_seal.seal(seed, "site#renewal#0001")
    assert seed not in sealed and seed.upper() not in sealed
    assert draw_seal.unseal(sealed, "site#renewal#0001") == seed
    assert draw_seal.seal(seed, "site#renewal#0001") != sealed  # a fresh nonce each time


def test_a_seed_sealed_for_another_draw_or_altered_does_not_open():
    sealed = draw_seal.seal("11" * 32, "site#renewal#0001")
    with pytest.raises(ValueError):
        draw_seal.unseal(sealed, "site#renewal#0002")
    body = sealed.removeprefix("local1:")
    flipped = "local1:" + ("A" if body[30] != "A" else "B").join((body[:30], body[31:]))
    with pytest.raises(ValueError):
        draw_seal.unseal(flipped, "site#renewal#0001")
