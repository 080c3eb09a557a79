"""Partners and notifications over real HTTP against `chalice local` (DEVELOPERS.md, "Partners, staff work, audit trail, notifications"): the x-api-key
authorizer, revocation, and a confirmation e-mail written by the stream handler."""
import email
import os
import time
from email import policy as email_policy

import pytest

from tests.support import applicant

pytestmark = pytest.mark.e2e


def site(http, **policy):
    http.create_site(site_id=http.site)
    if policy:
        http.set_policy(site_id=http.site, **policy)
    http.schedule(site_id=http.site)


def test_a_partner_books_over_http_and_a_revoked_key_is_refused_at_once(http):
    site(http, partner_share=1 / 3, partner_release_lead_seconds=3600)
    partner = http.create_partner(name="Association e2e", sites=(http.site,))
    public = {s["slot_id"] for s in http.slots(site_id=http.site)}
    mine = http.partner_slots(partner, site_id=http.site)
    assert len(public) == 2 and len(mine) == 3
    reserved = next(s for s in mine if s["slot_id"] not in public)
    booking = http.partner_book(partner, reserved["slot_id"], applicant(70_001))
    listed = http.partner_bookings(partner).body["bookings"]
    assert [b["booking_id"] for b in listed] == [booking["booking_id"]]
    assert http.call("GET", "/partner/bookings").status == 401
    assert http.revoke_partner(partner).status == 204
    assert http.partner_bookings(partner).status == 401


def test_a_confirmation_over_http_arrives_as_an_eml_file(http, outbox):
    site(http, max_holds_per_ip_per_hour=1_000_000)  # every e2e test comes from 127.0.0.1
    slot = http.slots(site_id=http.site)[0]
    booking = http.book(slot["slot_id"], applicant(70_002, email="e2e-person@example.org"), ip="198.51.100.70")
    path = os.path.join(outbox, f"{booking['booking_id']}-confirmation.eml")
    deadline = time.monotonic() + 20
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert os.path.exists(path), os.listdir(outbox)
    with open(path, "rb") as f:
        message = email.message_from_bytes(f.read(), policy=email_policy.default)
    assert message["To"] == "e2e-person@example.org"
    assert booking["reference"] in message.get_content()
