"""R9 fraud signals: counted in the transactions that cause them, read by staff day by day."""
from datetime import date, timedelta

from chalicelib import storage
from chalicelib.platform.clock import utc_date
from chalicelib.platform.observability import logger, metric
from chalicelib.rules import oversight, records
from chalicelib.usecases import View


def hold_signals(now: float, client_ip: str | None, identity_key: str, email: str | None, request: bool = False,
                 person: tuple[str, str] | None = None) -> list[records.NewSignal]:
    """The signals a hold's (or a draw request's) transaction counts: its identity behind its
    IP, a throw-away e-mail domain, and where a procedure accepts several documents the person
    (`person`: registry_entries.person_key, and the document's identity key) under each document
    (R10, one person one entry); holds and requests are counted apart."""
    signals = []
    if person is not None:
        signals.append(records.NewSignal("person", person[0], now, request=request, identity=oversight.identity_short(person[1])))
    if client_ip:
        signals.append(records.NewSignal("ip", client_ip, now, request=request, identity=oversight.identity_short(identity_key)))
    if email and oversight.is_disposable(email):
        metric("DisposableEmailDomains")
        signals.append(records.NewSignal("email_domain", oversight.email_domain(email), now, request=request))
    return signals


def request_signals(now: float, client_ip: str | None, identity_key: str, email: str | None,
                    person: tuple[str, str] | None = None) -> list[records.NewSignal]:
    """The signals of a draw request, as for holds: fake applicants filing requests from one
    network, or with throw-away addresses, show up too."""
    return hold_signals(now, client_ip, identity_key, email, request=True, person=person)


def partner_signals(now: float, partner_id: str | None, booked: int = 0, cancelled: int = 0, lapsed: int = 0) -> list[records.NewSignal]:
    if partner_id and cancelled:
        metric("PartnerCancellations", cancelled, partner=partner_id)
    if partner_id and lapsed:
        metric("PartnerLapses", lapsed, partner=partner_id)
    return [records.NewSignal("partner", partner_id, now, booked=booked, cancelled=cancelled, lapsed=lapsed)] if partner_id else []


def lapsed_partner_hold(now: float, slot: records.Slot) -> list[records.NewSignal]:
    """R9: the slot about to be taken again was a partner's hold or offer left to lapse (a lapse
    writes nothing when it happens: it is counted in the transaction that takes the slot next)."""
    lapsed = slot.state == "held" and slot.hold_expires_at is not None and slot.hold_expires_at <= now
    return partner_signals(now, slot.hold_partner, lapsed=1) if lapsed and slot.hold_partner else []


def partner_activity(now: float, partner_id: str, identity_key: str, request: bool = False, urgent: bool = False) -> list[records.NewSignal]:
    """R9 per partner key: the identities it acts for (counted like those behind an IP), its
    holds and requests, and the requests it declares urgent (a permit expiring soon puts them in
    the draw's first tier: a key declaring many is worth a look)."""
    metric("PartnerRequests" if request else "PartnerHolds", partner=partner_id)
    signals = [records.NewSignal("partner_identity", partner_id, now, request=request, identity=oversight.identity_short(identity_key))]
    if urgent:
        metric("PartnerUrgentDeclarations", partner=partner_id)
        signals.append(records.NewSignal("partner_urgent", partner_id, now))
    return signals


def checkin_mismatch(now: float, booking: records.Booking, staff_subject: str) -> records.NewSignal:
    """R9: the document at the counter was not the booked identity's."""
    return records.NewSignal("checkin_mismatch", booking.booking_id, now, details={
        "booking_id": booking.booking_id, "site_id": booking.site_id, "slot_id": booking.slot_id,
        "partner_id": booking.partner_id, "staff": staff_subject})


def false_urgency(now: float, booking: records.Booking, staff_subject: str, permit_read_on: str) -> records.NewSignal:
    """R9: a booking won in the urgent tier whose permit, read at the counter, was not urgent."""
    return records.NewSignal("false_urgency", booking.booking_id, now, details={
        "booking_id": booking.booking_id, "site_id": booking.site_id, "slot_id": booking.slot_id,
        "partner_id": booking.partner_id, "staff": staff_subject, "draw_day": booking.draw_day,
        "declared_permit_expires_on": booking.permit_expires_on, "read_permit_expires_on": permit_read_on})


def cooldown_refused(now: float, site_id: str) -> None:
    """Counted after the refusal; a failure to count never changes the caller's answer."""
    try:
        storage.record_cooldown_refusal(now, site_id)
    except Exception:  # noqa: BLE001 -- a lost signal is better than a 503 for the applicant
        logger().warning("cooldown signal not recorded")


def _items_of_day(day: date) -> list[oversight.SignalCounter]:
    """The counters of one UTC day as oversight's pure functions take them: one Query per shard."""
    items = []
    for s in storage.signals_of_day(day.isoformat()):
        kind, _, subject = s.at.partition("#")
        items.append(oversight.SignalCounter(kind=s.kind or kind, subject=subject, n=int(s.n or 0), requests=int(s.requests or 0),
                                             identities=s.identities or set(), booked=int(s.booked or 0),
                                             cancelled=int(s.cancelled or 0), lapsed=int(s.lapsed or 0), details=s.details))
    return items


def review(last_day: date, days: int) -> View:
    """The signals of `days` UTC days ending on `last_day` (storage.signals_of_day)."""
    items = []
    for offset in range(days):
        items += _items_of_day(last_day - timedelta(days=offset))
    summary = oversight.summarize_signals(items)
    return {"from": (last_day - timedelta(days=days - 1)).isoformat(), "to": last_day.isoformat(), "signals": summary}


def publish_metrics(now: float) -> View:
    """Today's "many identities behind one IP" (R9) as metrics, for its alarm. A transaction
    cannot return the count and a hold must not pay an extra read for it, so a schedule reads
    the day's counters (a few Queries) and publishes what staff would see now."""
    most, many = oversight.many_identities_per_ip(_items_of_day(today(now)))
    metric("IdentitiesPerIpMax", most)
    metric("IpsWithManyIdentities", many)
    return {"identities_per_ip_max": most, "ips_with_many_identities": many}


def today(now: float) -> date:
    return utc_date(now)

