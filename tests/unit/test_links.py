"""Links in e-mails, pure parts (DEVELOPERS.md, "Links in e-mails, find my booking, offers by e-mail"):
link tokens and which booking change sends the link again."""
import base64

from chalicelib.platform import keys
from chalicelib.platform.tokens import derived_token, link_token, link_token_matches
from chalicelib.usecases import notify

RING = keys.parse(keys.LINKS, "unit-secret")
SECRET = RING.secret


def test_a_link_token_is_256_bits_bound_to_its_kind_id_and_secret():
    token = link_token(RING, "booking", "bkg_1")
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    assert token == link_token(RING, "booking", "bkg_1")  # the stream and the draw recompute it
    others = {link_token(RING, "request", "bkg_1"), link_token(RING, "booking", "bkg_2"),
              link_token(keys.parse(keys.LINKS, "another-secret"), "booking", "bkg_1"), derived_token(SECRET, "booking", "bkg_1")}
    assert token not in others and len(others) == 4
    assert link_token_matches(RING, "booking", "bkg_1", token)
    for wrong in (None, "", token[:-1], link_token(RING, "booking", "bkg_2"), 42):
        assert not link_token_matches(RING, "booking", "bkg_1", wrong)


def test_find_my_booking_sends_the_link_once_per_request_and_only_for_a_live_booking():
    booked = {"status": "booked", "booking_id": "b"}
    assert notify.kind_of_change("MODIFY", booked, {**booked, "link_requested_at": 10.0}) == notify.LINK
    asked = {**booked, "link_requested_at": 10.0}
    assert notify.kind_of_change("MODIFY", asked, {**asked, "link_requested_at": 20.0}) == notify.LINK
    assert notify.kind_of_change("MODIFY", asked, {**asked, "reminded_at": 30.0}) == notify.REMINDER
    cancelled = {**asked, "status": "cancelled"}
    assert notify.kind_of_change("MODIFY", asked, cancelled) == notify.CANCELLATION
    assert notify.kind_of_change("MODIFY", cancelled, {**cancelled, "link_requested_at": 40.0}) is None
