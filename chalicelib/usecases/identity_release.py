"""Staff free a person present at the counter with their document (R10): whatever was done in
their name for a procedure ends, and their cooldown is lifted (DEVELOPERS.md, "Staff free a person")."""
from datetime import date

from chalicelib import storage
from chalicelib.platform import keys
from chalicelib.platform.observability import metric
from chalicelib.rules import identity_keys, policies, proofs, records, refusals
from chalicelib.rules.errors import InvalidValue
from chalicelib.rules.identity_keys import Document
from chalicelib.usecases import View, audit_trail, draw_requests, site_catalog, standby


def release_identity(site_id: str, procedure_id: str, document: Document, birth_date: date, reason: str, staff_subject: str,
                     client_ip: str | None, now: float, email: str | None = None) -> View:
    """End the person's live request and booking for the procedure and their hold (wherever they
    are: the person, document in hand, answers for what was done in their name), without any
    cooldown, then lift the cooldown; recorded in the site's history and as a signal. Each end
    is its own transaction with its audit entries (a 503 midway: the same call again finishes)."""
    site_catalog.procedure(site_id, procedure_id)
    # The locks bind the procedure's lock key (rules/proofs.py::lock_key): the person under
    # registry, the person and their mailbox under contact, the unproven key under none.
    check = site_catalog.policy(site_id, procedure_id).identity_check
    if check == policies.CONTACT and not email:
        raise InvalidValue("email", "This procedure proves a person by their mailbox: give the e-mail they use.")
    identity = proofs.lock_key(identity_keys.identity_key_of(keys.signing(keys.IDENTITIES), document, birth_date), check, email or "")
    actor, note = audit_trail.staff(staff_subject), {"reason": reason, "site_id": site_id}
    locks = storage.locks_of(identity, procedure_id, now)
    ended: View = {"request_id": _end_request(locks.request_id, now),
                   "hold_id": _end_hold(identity, procedure_id, actor, note, client_ip, now),
                   "booking_id": _end_booking(locks.booking_id, actor, note, client_ip, now)}
    lifted = locks.cooldown_until > now
    person = identity_keys.actor_pseudonym(identity, site_id)
    details = {"person": person, "procedure_id": procedure_id, "reason": reason, "cooldown_lifted": lifted, **ended}
    result = storage.lift_cooldown_if_no_live_hold(
        identity, now, locks.has_hold_scope,
        audit=[audit_trail.staff_change(audit_trail.site_entity(site_id), "identity_released", staff_subject, now, client_ip, **details)],
        signals=[records.NewSignal("identity_released", f"{site_id}#{person}", now, details={"site_id": site_id, "staff": staff_subject,
                                                                                             **details})])
    if not result.ok:
        raise refusals.STATE_CHANGED.exception()  # the person took a hold meanwhile: ask again
    metric("IdentityReleased", site=site_id)
    return {"released": details}


def _end_request(request_id: str | None, now: float) -> str | None:
    """The identity's live request for the procedure, withdrawn; an offer it had goes back to the
    next draw without a cooldown."""
    found = storage.get_request(request_id) if request_id else None
    if found is None or draw_requests.request_status(found, now) not in ("waiting", "offered"):
        return None
    offer = storage.get_hold(found.hold_id) if found.status == "offered" and found.hold_id else None
    terms = standby.freed_terms(offer, now) if offer else None
    if not storage.withdraw_request_if_live(found, now, offer, terms["available_from"] if terms else None, None,
                                            terms["draw_from"] if terms else None).ok:
        raise refusals.STATE_CHANGED.exception()
    standby.forget_standby(found.site_id, found.procedure_id)
    return found.request_id


def _end_hold(identity: str, procedure_id: str, actor: str, note: dict, client_ip: str | None, now: float) -> str | None:
    """The identity's live hold (read again: withdrawing an offer may have ended it), released
    without a cooldown; its slot comes back as from any release."""
    locks = storage.locks_of(identity, procedure_id, now)
    found = storage.get_hold(locks.hold_id) if locks.hold_live and locks.hold_id else None
    if found is None:
        return None
    terms = standby.freed_terms(found, now)
    result = storage.release_hold_if_active(
        found, now, terms["available_from"], None, draw_from=terms["draw_from"],
        audit=[audit_trail.entry(found.slot_id, "hold_released_by_staff", actor, now, found.starts_at, client_ip, hold_id=found.hold_id, **note),
               audit_trail.entry(found.hold_id, "hold_released_by_staff", actor, now, found.starts_at, client_ip, **note)])
    if not result.ok:
        raise refusals.STATE_CHANGED.exception()
    return found.hold_id


def _end_booking(booking_id: str | None, actor: str, note: dict, client_ip: str | None, now: float) -> str | None:
    """The identity's live booking for the procedure, cancelled without a cooldown (its e-mail
    address on file is told, as for any cancellation)."""
    found = storage.get_booking(booking_id) if booking_id else None
    if found is None or found.status != "booked":
        return None
    terms = standby.freed_terms(found, now)
    result = storage.cancel_booking_if_booked(
        found, now, terms["available_from"], None, draw_from=terms["draw_from"],
        audit=[audit_trail.entry(found.booking_id, "cancelled_by_staff", actor, now, found.starts_at, client_ip, **note),
               audit_trail.entry(found.slot_id, "cancelled_by_staff", actor, now, found.starts_at, client_ip, booking_id=found.booking_id, **note)])
    if not result.ok:
        raise refusals.STATE_CHANGED.exception()
    return found.booking_id
