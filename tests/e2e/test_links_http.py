"""Links in e-mails (DEVELOPERS.md, "Links in e-mails, find my booking, offers by e-mail") over
real HTTP against `chalice local` and the stream relay: the e-mail's link opens the booking, and
"find my booking" sends a new link, the old one stops working, rate-limited per identity."""
import email
import os
import re
import time
from email import policy as email_policy

import pytest

from tests.support import applicant

pytestmark = pytest.mark.e2e

LINK = re.compile(r"https?://\S+#/booking/([^/\s]+)/([A-Za-z0-9_-]+)")


def wait_for_link(outbox, name):
    path = os.path.join(outbox, name)
    deadline = time.monotonic() + 20
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert os.path.exists(path), os.listdir(outbox)
    with open(path, "rb") as f:
        text = email.message_from_bytes(f.read(), policy=email_policy.default).get_content()
    return LINK.search(text).groups()


def test_the_emailed_link_opens_the_booking_and_find_my_booking_replaces_it(http, outbox):
    http.create_site(site_id=http.site)
    http.set_policy(site_id=http.site, max_holds_per_ip_per_hour=1_000_000)
    http.schedule(site_id=http.site)
    person = applicant(71_001, email="e2e-links@example.org")
    booking = http.book(http.slots(site_id=http.site)[0]["slot_id"], person, ip="198.51.100.71")
    booking_id, token = wait_for_link(outbox, f"{booking['booking_id']}-confirmation.eml")
    assert booking_id == booking["booking_id"]
    opened = http.call("GET", f"/bookings/{booking_id}", headers={"X-Booking-Token": token})
    assert opened.status == 200 and opened.body["reference"] == booking["reference"]

    lookup = {"document": person["document"], "birth_date": person["birth_date"], "email": person["email"]}
    answers = [http.call("POST", "/bookings/lookup", lookup, {"X-Forwarded-For": f"203.0.113.{71 + i}"}) for i in range(4)]
    assert [a.status for a in answers] == [202] * 4  # no limit per identity for a stranger to use up
    # The first lookup sends a new link (the others, within LOOKUP_LINK_INTERVAL_SECONDS, do not):
    # it opens the booking, the confirmation's link no longer does.
    deadline = time.monotonic() + 20
    while True:
        again, new_token = wait_for_link(outbox, f"{booking['booking_id']}-link.eml")
        status = http.call("GET", f"/bookings/{again}", headers={"X-Booking-Token": new_token}).status
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert again == booking_id and new_token != token and status == 200
    assert http.call("GET", f"/bookings/{booking_id}", headers={"X-Booking-Token": token}).status == 401
