"""Bookings: confirming a hold, cancelling, staff's check-in and no-show, reminders, day lists."""
from collections.abc import Iterable
from typing import Any

from pynamodb.expressions.update import Action

from chalicelib.platform.clock import epoch_of
from chalicelib.rules import lifecycle, records
from chalicelib.rules.oversight import day_window
from chalicelib.rules.records import Outcome
from chalicelib.storage import cursors, values
from chalicelib.storage.audit import add_entries
from chalicelib.storage.calls import RawItem, get, guard_public_functions, query_all, update_if
from chalicelib.storage.conditions import (
    HOLD_SCOPE,
    booking_scope,
    charge_partner_quota,
    end_hold,
    free_the_slot,
    no_active_booking,
    request_scope,
    slot_held_by,
    slot_not_started,
)
from chalicelib.storage.figures import count_change_of, freed_figure
from chalicelib.storage.models import Booking, Hold, IdentityState, Request, Slot
from chalicelib.storage.signals import add_signals
from chalicelib.storage.transaction import Label, Transaction


def confirm_hold_as_booking(hold: records.Hold, booking: records.Booking, now: float, audit: Iterable[records.NewAuditEntry] = (),
                            signals: Iterable[records.NewSignal] = ()) -> Outcome:
    """Turn an active, unexpired hold into a booking (records.Booking): slot, hold, booking, both
    identity items, the audit entries and the signals change together or not at all. Returns what failed (refusals.confirm_refusal
    chooses), with the hold's status and expiry as stored now when the hold's condition failed
    (confirmed concurrently, or no longer active)."""
    tx = Transaction()
    tx.update(
        "slot",
        Slot(hold.slot_id),
        # The booking holds its identity (with a TTL); the slot, kept for good, keeps none.
        actions=[Slot.state.set(lifecycle.BOOKED), Slot.booking_id.set(booking.booking_id), Slot.search_pk.remove(),
                 Slot.hold_identity.remove(), Slot.freed_by.remove()],
        condition=slot_held_by(hold.hold_id, now) & slot_not_started(now),
    )
    tx.update(
        "hold",
        Hold(hold.hold_id),
        actions=[
            Hold.status.set("confirmed"),
            Hold.booking_id.set(booking.booking_id),
            Hold.reference.set(booking.reference),
        ],
        condition=(Hold.status == "active") & (Hold.expires_at > now),
    )
    tx.put("booking", values.item(Booking, booking, day_pk=f"{booking.site_id}#{booking.day}"), Booking.booking_id.does_not_exist())
    count_change_of(tx, hold, booked=1)
    end_hold(tx, hold)
    tx.update(
        "active_booking",
        IdentityState(hold.identity_key, booking_scope(hold.procedure_id)),
        actions=[
            IdentityState.booking_id.set(booking.booking_id),
            IdentityState.booking_ends_at.set(epoch_of(booking.ends_at)),
            IdentityState.purge_at.set(booking.purge_at),
        ],
        condition=no_active_booking(now),
    )
    if hold.request_id:
        tx.update(
            "request",
            Request(hold.request_id),
            actions=[Request.status.set("booked"), Request.booking_id.set(booking.booking_id), Request.pool_pk.remove()],
            condition=(Request.status == "offered") & (Request.hold_id == hold.hold_id),
        )
        # The request is over; from now on the booking itself is the identity's one (R2).
        tx.update(
            "request_scope",
            IdentityState(hold.identity_key, request_scope(hold.procedure_id)),
            actions=[IdentityState.request_ends_at.set(now)],
            condition=IdentityState.request_id == hold.request_id,
        )
    add_entries(tx, audit)
    add_signals(tx, signals)
    failed = tx.commit()
    fresh = get(Hold, hold.hold_id) if "hold" in failed else None
    return Outcome.of(failed, {"status": fresh.status, "expires_at": fresh.expires_at} if fresh is not None else {})


def get_booking(booking_id: str) -> records.Booking | None:
    return values.booking(get(Booking, booking_id))


def cancel_booking_if_booked(booking: records.Booking, now: float, available_from: float | None, cooldown_until: float | None,
                             audit: Iterable[records.NewAuditEntry] = (), signals: Iterable[records.NewSignal] = (), draw_from: float | None = None) -> Outcome:
    """Cancel a booking: its slot goes into quarantine (R3), its identity into cooldown (R4),
    and the identity's one-booking-per-procedure lock is freed, all in one transaction; a
    partner's booking uses one more of the partner's day's quota (R11). Returns what failed."""
    failed = _cancel_transaction(booking, now, available_from, cooldown_until, audit, signals, draw_from)
    if set(failed) == {"cooldown"}:
        # A longer cooldown is already running: keep it, cancel without touching it.
        failed = _cancel_transaction(booking, now, available_from, None, audit, signals, draw_from)
    return Outcome.of(failed)


def _cancel_transaction(booking: records.Booking, now: float, available_from: float | None, cooldown_until: float | None,
                        audit: Iterable[records.NewAuditEntry], signals: Iterable[records.NewSignal], draw_from: float | None) -> dict[Label, RawItem]:
    tx = Transaction()
    if booking.partner_id:
        charge_partner_quota(tx, booking.partner_id, day_window(now))
    tx.update(
        "booking",
        Booking(booking.booking_id),
        actions=[Booking.status.set("cancelled"), Booking.cancelled_at.set(now)]
        + ([Booking.freed_late.set(True)] if available_from is None else []),
        condition=Booking.status == "booked",
    )
    free_the_slot(tx, booking, available_from, draw_from,
                  (Slot.state == lifecycle.BOOKED) & (Slot.booking_id == booking.booking_id), [Slot.booking_id.remove()])
    count_change_of(tx, booking, cancelled=1, **freed_figure(available_from))
    if cooldown_until is not None:
        tx.update(
            "cooldown",
            IdentityState(booking.identity_key, HOLD_SCOPE),
            actions=[IdentityState.cooldown_until.set(cooldown_until)],
            condition=IdentityState.cooldown_until.does_not_exist() | (IdentityState.cooldown_until <= cooldown_until),
        )
    tx.delete(
        "active_booking",
        IdentityState(booking.identity_key, booking_scope(booking.procedure_id)),
        condition=IdentityState.booking_id == booking.booking_id,
    )
    add_entries(tx, audit)
    add_signals(tx, signals)
    return tx.commit()


def bookings_of_day(site_id: str, day: str) -> list[records.Booking]:
    """Every booking of a site's local day, whatever its status (the staff's day list)."""
    return [values.booking(b) for b in query_all(Booking, f"{site_id}#{day}", index=Booking.day)]


def bookings_of_partner(partner_id: str, from_key: str, limit: int, cursor: str | None = None) -> tuple[list[records.Booking], str | None]:
    """One page of a partner's own bookings from from_key on, soonest first: ONE Query on the
    sparse partner index. The partner is the caller's, never the cursor's: a cursor naming
    another partner is refused (422)."""
    start_key = cursors.decode(cursor, ("booking_id", "partner_id", "starts_at"), ("partner_id", partner_id)) if cursor else None
    start_key = cursors.resume_within(start_key, "starts_at", from_key)  # a page read yesterday
    found, next_cursor = cursors.query_page(Booking, "partner_id", partner_id, limit, start_key, index=Booking.partner,
                                            range_key_condition=Booking.starts_at >= from_key)
    return [values.booking(b) for b in found], next_cursor


# --- staff work (R7) --------------------------------------------------------------------------

def _booking_final(booking: records.Booking, status: str, slot_state: str, audit: Iterable[records.NewAuditEntry], signals: Iterable[records.NewSignal] = (),
                   extra_actions: Iterable[Action] = ()) -> Outcome:
    tx = Transaction()
    tx.update(
        "booking",
        Booking(booking.booking_id),
        actions=[Booking.status.set(status), *extra_actions],
        condition=Booking.status == "booked",
    )
    tx.update(
        "slot",
        Slot(booking.slot_id),
        actions=[Slot.state.set(slot_state), Slot.hold_identity.remove(), Slot.freed_by.remove()],
        condition=(Slot.state == lifecycle.BOOKED) & (Slot.booking_id == booking.booking_id),
    )
    count_change_of(tx, booking, **{status: 1})
    add_entries(tx, audit)
    add_signals(tx, signals)
    return Outcome.of(tx.commit())


def check_in_booking(booking: records.Booking, status: str, now: float, audit: Iterable[records.NewAuditEntry],
                     signals: Iterable[records.NewSignal] = ()) -> Outcome:
    """R7: attended (identity matches) or refused (it does not), booking and slot together with
    the audit entries and signals (a mismatch, a false urgency), while the booking is still
    booked. Returns what failed."""
    slot_state = lifecycle.ATTENDED if status == lifecycle.ATTENDED else lifecycle.REFUSED
    return _booking_final(booking, status, slot_state, audit, signals, [Booking.checked_in_at.set(now)])


def mark_no_show(booking: records.Booking, now: float, audit: Iterable[records.NewAuditEntry]) -> Outcome:
    return _booking_final(booking, lifecycle.NO_SHOW, lifecycle.NO_SHOW, audit)


# --- reminders --------------------------------------------------------------------------------

def bookings_to_remind(site_id: str, day: str) -> list[records.Booking]:
    """The bookings of a site's local day still booked."""
    return [values.booking(b) for b in query_all(Booking, f"{site_id}#{day}", index=Booking.day, filter_condition=Booking.status == "booked")]


def mark_reminded_once(booking: records.Booking, now: float) -> Outcome:
    """Done if this call set reminded_at (the stream then sends the reminder); refused
    ("booking") if another run did it first or the booking is no longer booked."""
    return update_if(Booking(booking.booking_id), [Booking.reminded_at.set(now)],
                     Booking.reminded_at.does_not_exist() & (Booking.status == "booked"), label="booking")


def booking_image(image: RawItem | None) -> dict[str, Any]:
    """A bookings stream record's image (DynamoDB JSON, as the stream gives it) as plain values of
    the booking's fields (records.Booking's names): the stream's format is storage's, so the
    notifications read a booking, not an item. No DynamoDB call."""
    return {name: _plain(value) for name, value in (image or {}).items()}


def _plain(value: Any) -> Any:
    """One DynamoDB-JSON attribute value as plain Python, for the types bookings use."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (kind, raw), = value.items()
    if kind == "M":
        return {name: _plain(inner) for name, inner in raw.items()}
    if kind == "N":
        return float(raw)
    return raw if kind in ("S", "BOOL") else None


guard_public_functions(globals())
