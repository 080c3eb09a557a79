"""Prefecture staff's day-to-day work: check-in with identity match (R7), no-show, closing slots."""
from chalicelib import audit, domain, oversight, storage, storage_staff
from chalicelib.clock import epoch_of
from chalicelib.errors import Conflict, NotFound
from chalicelib.keys import identity_secret
from chalicelib.observability import metric


def _booking(booking_id):
    found = storage.get_booking(booking_id) if isinstance(booking_id, str) and len(booking_id) <= 64 else None
    if found is None:
        raise NotFound("Unknown booking.", code="booking_not_found")
    return found


def check_in(booking_id, doc_type, number, birth_date, staff_subject, client_ip, now):
    """R7: the document at the counter against the booking's identity. A match: attended. A
    mismatch: the appointment is refused and a resale signal recorded, in the same transaction."""
    found = _booking(booking_id)
    presented = domain.identity_key(identity_secret(), doc_type, number, birth_date)
    match = oversight.identities_match(presented, found.identity_key)
    status = oversight.check_in_status(match)
    actor = audit.staff(staff_subject)
    also = [
        audit.entry(found.booking_id, "checked_in" if match else "check_in_refused", actor, now, found.starts_at, client_ip),
        audit.entry(found.slot_id, status, actor, now, found.starts_at, client_ip, booking_id=found.booking_id),
    ]
    if not match:
        also.append(storage_staff.signal_checkin_mismatch(now, found, staff_subject))
    storage_staff.check_in_booking(found, status, now, also)
    metric("CheckinMatched" if match else "CheckinMismatches", site=found.site_id)
    return {"booking_id": found.booking_id, "match": match, "status": status}


def no_show(booking_id, staff_subject, client_ip, now):
    found = _booking(booking_id)
    if now < epoch_of(found.starts_at):
        raise Conflict("The appointment has not started yet.", code="appointment_not_started")
    actor = audit.staff(staff_subject)
    storage_staff.mark_no_show(found, now, [
        audit.entry(found.booking_id, "no_show", actor, now, found.starts_at, client_ip),
        audit.entry(found.slot_id, "no_show", actor, now, found.starts_at, client_ip, booking_id=found.booking_id),
    ])
    metric("NoShow", site=found.site_id)
    return {"booking_id": found.booking_id, "status": domain.NO_SHOW}


def close_slot(slot_id, staff_subject, client_ip, now):
    """The slot is never offered again; its applicant, if booked, is told (by the bookings stream)."""
    slot = storage.get_slot(slot_id) if isinstance(slot_id, str) and len(slot_id) <= 64 else None
    if slot is None:
        raise NotFound("Unknown slot.", code="slot_not_found")
    actor = audit.staff(staff_subject)

    def entries(booking):
        items = [audit.entry(slot.slot_id, "closed", actor, now, slot.starts_at, client_ip,
                             previous_state=slot.state, **({"booking_id": booking.booking_id} if booking else {}))]
        if booking is not None:
            items.append(audit.entry(booking.booking_id, "closed", actor, now, slot.starts_at, client_ip))
        return items

    booking = storage_staff.close_slot_if_open_to_change(slot, now, entries)
    metric("SlotClosed", site=slot.site_id)
    return {"slot_id": slot.slot_id, "state": domain.CLOSED,
            **({"booking_id": booking.booking_id, "booking_status": "closed"} if booking else {})}
