"""Prefecture staff's day-to-day work: check-in with identity match (R7), no-show, closing slots."""
from datetime import date

from chalicelib import storage
from chalicelib.platform.clock import epoch_of
from chalicelib.platform.keys import identity_secret
from chalicelib.platform.observability import metric
from chalicelib.rules import identity_keys, lifecycle, lottery, oversight, proofs, records, refusals
from chalicelib.rules.identity_keys import Document
from chalicelib.usecases import View, audit_trail, fraud_signals
from chalicelib.usecases.ownership import found_or_404


def _booking(booking_id: str) -> records.Booking:
    return found_or_404(storage.get_booking, booking_id, refusals.BOOKING_NOT_FOUND)


def check_in(booking_id: str, document: Document, birth_date: date, staff_subject: str, client_ip: str | None, now: float,
             permit_expires_on: date | None = None) -> View:
    """R7: the document at the counter against the booking's identity, and for a booking won in
    the urgent tier the permit's real expiry against the tier. A match: attended. A mismatch or a
    false urgency: the appointment is refused and a signal recorded, in the same transaction.
    A false urgency is judged only on the booked person's own permit (identities match)."""
    found = _booking(booking_id)
    honest = lottery.declared_urgency_holds(found.tier, _day(found.draw_day), permit_expires_on)  # type: ignore[arg-type]  # no draw day: not tier 1, never read
    presented = identity_keys.identity_key_of(identity_secret(), document, birth_date)
    # The booking binds a lock key (R10): the person, or the person and the mailbox that proved them.
    match = any([oversight.identities_match(key, found.identity_key)
                 for key in proofs.lock_key_candidates(presented, found.applicant.email)])
    false_urgency = match and not honest
    status = oversight.check_in_status(match, honest)
    audit, signals = _check_in_notes(found, status, match, false_urgency, permit_expires_on, staff_subject, client_ip, now)
    result = storage.check_in_booking(found, status, now, audit, signals)
    if not result.ok:
        raise refusals.BOOKING_NOT_ACTIVE.exception()
    if status == lifecycle.ATTENDED:
        metric("CheckinMatched", site=found.site_id)
    else:
        metric("FalseUrgency" if false_urgency else "CheckinMismatches", site=found.site_id)
    return {"booking_id": found.booking_id, "match": match, "false_urgency": false_urgency, "status": status}


def _check_in_notes(found: records.Booking, status: str, match: bool, false_urgency: bool, permit_expires_on: date | None, staff_subject: str,
                    client_ip: str | None, now: float) -> tuple[list[records.NewAuditEntry], list[records.NewSignal]]:
    """The check-in's audit entries, and its signals: a mismatch, a false urgency (R9)."""
    actor = audit_trail.staff(staff_subject)
    details: dict[str, str | None] = {} if status == lifecycle.ATTENDED else {"reason": "false_urgency" if false_urgency else "identity_mismatch"}
    if found.tier is not None:
        details["permit_expires_on"] = permit_expires_on.isoformat() if permit_expires_on else None
    audit = [
        audit_trail.entry(found.booking_id, "checked_in" if status == lifecycle.ATTENDED else "check_in_refused", actor, now,
                    found.starts_at, client_ip, **details),
        audit_trail.entry(found.slot_id, status, actor, now, found.starts_at, client_ip, booking_id=found.booking_id),
    ]
    signals = []
    if not match:
        signals.append(fraud_signals.checkin_mismatch(now, found, staff_subject))
    if false_urgency:
        assert permit_expires_on is not None, "a false urgency is judged on the permit read"
        signals.append(fraud_signals.false_urgency(now, found, staff_subject, permit_expires_on.isoformat()))
    return audit, signals


def _day(iso: str | None) -> date | None:
    return date.fromisoformat(iso) if iso else None


def no_show(booking_id: str, staff_subject: str, client_ip: str | None, now: float) -> View:
    found = _booking(booking_id)
    if now < epoch_of(found.starts_at):
        raise refusals.APPOINTMENT_NOT_STARTED.exception()
    actor = audit_trail.staff(staff_subject)
    result = storage.mark_no_show(found, now, [
        audit_trail.entry(found.booking_id, "no_show", actor, now, found.starts_at, client_ip),
        audit_trail.entry(found.slot_id, "no_show", actor, now, found.starts_at, client_ip, booking_id=found.booking_id),
    ])
    if not result.ok:
        raise refusals.BOOKING_NOT_ACTIVE.exception()
    metric("NoShow", site=found.site_id)
    return {"booking_id": found.booking_id, "status": lifecycle.NO_SHOW}


def close_slot(slot_id: str, staff_subject: str, client_ip: str | None, now: float) -> View:
    """The slot is never offered again; its applicant, if booked, is told (by the bookings stream)."""
    slot = found_or_404(storage.get_slot, slot_id, refusals.SLOT_NOT_FOUND)
    actor = audit_trail.staff(staff_subject)
    booking = storage.get_booking(slot.booking_id) if slot.state == lifecycle.BOOKED and slot.booking_id else None
    audit = [audit_trail.entry(slot.slot_id, "closed", actor, now, slot.starts_at, client_ip,
                               previous_state=slot.state, **({"booking_id": booking.booking_id} if booking else {}))]
    if booking is not None:
        audit.append(audit_trail.entry(booking.booking_id, "closed", actor, now, slot.starts_at, client_ip))
    result = storage.close_slot_if_open_to_change(slot, booking, now, audit)
    if not result.ok:
        raise refusals.close_refusal(result).exception()
    metric("SlotClosed", site=slot.site_id)
    return {"slot_id": slot.slot_id, "state": lifecycle.CLOSED,
            **({"booking_id": booking.booking_id, "booking_status": "closed"} if booking else {})}
