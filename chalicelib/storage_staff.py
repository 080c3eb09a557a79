"""Storage for partners, staff work, the audit trail, signals and reminders (issue 4).

The second storage module: like storage.py it is the only place these items are read or written,
every write names its condition and every change of several items is one transaction (its
_Transaction). Audit entries and signal counters are built here as transaction items that the
booking transactions in storage.py append (`also=`), so a change and its audit entry are written
together or not at all.
"""
import secrets

from pynamodb.exceptions import PynamoDBException

from chalicelib import domain
from chalicelib.errors import Conflict
from chalicelib.models import (
    AuditEntry,
    Booking,
    Hold,
    IdentityState,
    Partner,
    PartnerKey,
    SignalCount,
    Slot,
)
from chalicelib.storage import (
    HOLD_SCOPE, _count, _decode_cursor, _get, _query_page, _resume_within, _storage_call, _Transaction, booking_scope, get_booking,
    get_hold, guard_public_functions,
)

# --- audit entries and signals as transaction items ------------------------------------------


def _audit_at(now):
    from datetime import datetime, timezone

    stamp = datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"{stamp}#{secrets.token_hex(4)}"


def audit_item(entity_id, action, actor, now, purge_at, client_ip=None, details=None):
    """An audit entry to append in a transaction: a new item, never an update."""
    entry = AuditEntry(
        entity_id, _audit_at(now), action=action, actor=actor, client_ip=client_ip,
        details=details or None, purge_at=int(purge_at),
    )
    return ("put", "audit", entry, AuditEntry.entity_id.does_not_exist())


# A day's signal items are spread over this many partitions by their subject: every hold and
# draw request updates one, and a single partition takes at most 1,000 write units a second.
SIGNAL_SHARDS = 8


def _signal_item(now, at, **attributes):
    """The day's counter item `at` ("<kind>#<subject>"), in its shard of the day's partitions."""
    from datetime import datetime, timezone
    from zlib import crc32

    day = datetime.fromtimestamp(now, timezone.utc).date().isoformat()
    return SignalCount(f"signals#{day}#{crc32(at.encode()) % SIGNAL_SHARDS}", at, **attributes)


def _signal_purge_at(now):
    from chalicelib import config

    return int(now + config.current().personal_data_retention_days * 86400)


def _signal_update(now, kind, subject, actions):
    item = _signal_item(now, f"{kind}#{subject}")
    actions = [SignalCount.kind.set(kind), SignalCount.purge_at.set(_signal_purge_at(now)), *actions]
    # A counter of the day: created or incremented, whichever comes first.
    return ("update", f"signal:{kind}", item, actions, SignalCount.entity_id.does_not_exist() | SignalCount.entity_id.exists())


def signal_identity_behind_ip(now, client_ip, identity_short, request=False):
    # One item per IP and hour: a carrier-grade NAT may put thousands of people behind one IP,
    # and an item must stay far below DynamoDB's 400 KB or every hold from that IP would fail.
    # Holds and draw requests share it (one set of identities), each with its own count.
    hour = int(now // 3600) % 24
    counter = SignalCount.requests if request else SignalCount.n
    return _signal_update(now, "ip", f"{client_ip}#{hour:02d}",
                          [counter.add(1), SignalCount.identities.add({identity_short})])


def signal_disposable_email(now, email_domain, request=False):
    counter = SignalCount.requests if request else SignalCount.n
    return _signal_update(now, "email_domain", email_domain, [counter.add(1)])


def signal_partner(now, partner_id, booked=0, cancelled=0):
    actions = []
    if booked:
        actions.append(SignalCount.booked.add(booked))
    if cancelled:
        actions.append(SignalCount.cancelled.add(cancelled))
    return _signal_update(now, "partner", partner_id, actions)


def signal_checkin_mismatch(now, booking, staff_subject):
    item = _signal_item(
        now, f"checkin_mismatch#{booking.booking_id}", kind="checkin_mismatch", n=1,
        details={"booking_id": booking.booking_id, "site_id": booking.site_id, "slot_id": booking.slot_id,
                 "partner_id": booking.partner_id, "staff": staff_subject},
        purge_at=_signal_purge_at(now),
    )
    return ("put", "signal:checkin_mismatch", item, SignalCount.entity_id.does_not_exist())


def signal_false_urgency(now, booking, staff_subject, permit_read_on):
    """R9: a booking won in the urgent tier whose permit, read at the counter, was not urgent."""
    item = _signal_item(
        now, f"false_urgency#{booking.booking_id}", kind="false_urgency", n=1,
        details={"booking_id": booking.booking_id, "site_id": booking.site_id, "slot_id": booking.slot_id,
                 "partner_id": booking.partner_id, "staff": staff_subject, "draw_day": booking.draw_day,
                 "declared_permit_expires_on": booking.permit_expires_on, "read_permit_expires_on": permit_read_on},
        purge_at=_signal_purge_at(now),
    )
    return ("put", "signal:false_urgency", item, SignalCount.entity_id.does_not_exist())


def record_cooldown_refusal(now, site_id):
    """A hold refused by the cooldown: counted after the refusal (its transaction was cancelled)."""
    _, _, item, actions, condition = _signal_update(now, "cooldown", site_id, [SignalCount.n.add(1)])
    with _storage_call():
        item.update(actions=actions, condition=condition)


def signals_of_day(day):
    """The day's signal items: one Query per shard."""
    with _storage_call():
        return [item for shard in range(SIGNAL_SHARDS) for item in SignalCount.query(f"signals#{day}#{shard}")]


# --- partners --------------------------------------------------------------------------------


def create_partner_if_new(partner, also=()):
    """The partner and its key lookup, together (with its audit entry)."""
    tx = _Transaction()
    tx.put("partner", partner, Partner.sk.does_not_exist())
    tx.put(
        "key",
        PartnerKey(f"partner-key#{partner.key_hash}", partner_id=partner.sk, name=partner.name, daily_quota=partner.daily_quota),
        PartnerKey.pk.does_not_exist(),
    )
    tx.add_all(also)
    if tx.commit():
        raise Conflict("This partner already exists.", code="partner_exists")


def list_partners():
    with _storage_call():
        return list(Partner.query("partner"))


def get_partner(partner_id):
    return _get(Partner, "partner", partner_id)


def revoke_partner_if_active(partner, now, also=()):
    """Revocation: the partner is marked revoked and its key lookup deleted, in one transaction,
    so the very next request with that key finds nothing."""
    tx = _Transaction()
    tx.update("partner", Partner("partner", partner.sk), actions=[Partner.revoked_at.set(now)],
              condition=Partner.sk.exists() & Partner.revoked_at.does_not_exist())
    tx.delete("key", PartnerKey(f"partner-key#{partner.key_hash}"), condition=PartnerKey.partner_id == partner.sk)
    tx.add_all(also)
    if tx.commit():
        raise Conflict("This partner is already revoked.", code="partner_revoked")


def partner_by_key_hash(key_hash):
    """One GetItem: the live partner behind an API key hash, or None (unknown or revoked)."""
    return _get(PartnerKey, f"partner-key#{key_hash}", "key")


def bookings_of_partner(partner_id, from_key, limit, cursor=None):
    """One page of a partner's own bookings from from_key on, soonest first: ONE Query on the
    sparse partner index. The partner is the caller's, never the cursor's: a cursor naming
    another partner is refused (422)."""
    start_key = _decode_cursor(cursor, ("booking_id", "partner_id", "starts_at"), ("partner_id", partner_id)) if cursor else None
    start_key = _resume_within(start_key, "starts_at", from_key)  # a page read yesterday
    return _query_page(Booking, Booking.partner, partner_id, Booking.starts_at >= from_key, limit, start_key)


# --- staff work ------------------------------------------------------------------------------


def _booking_final(tx, booking, status, slot_state, now, also, extra_actions=()):
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
        condition=(Slot.state == domain.BOOKED) & (Slot.booking_id == booking.booking_id),
    )
    _count(tx, booking.site_id, booking.procedure_id, booking.starts_at, booking.slot_id, **{status: 1})
    tx.add_all(also)
    if tx.commit():
        raise Conflict("This booking is no longer booked.", code="booking_not_active")


def check_in_booking(booking, status, now, also):
    """R7: attended (identity matches) or refused (it does not), booking and slot together."""
    slot_state = domain.ATTENDED if status == domain.ATTENDED else domain.REFUSED
    _booking_final(_Transaction(), booking, status, slot_state, now, also, [Booking.checked_in_at.set(now)])


def mark_no_show(booking, now, also):
    _booking_final(_Transaction(), booking, domain.NO_SHOW, domain.NO_SHOW, now, also)


def close_slot_if_open_to_change(slot, now, also):
    """Staff close a slot: never offered again (closed, out of the search index). A booking on it
    becomes `closed` and frees its identity's one-booking lock; a hold on it ends without cooldown."""
    tx = _Transaction()
    tx.update(
        "slot",
        Slot(slot.slot_id),
        actions=[Slot.state.set(domain.CLOSED), Slot.search_pk.remove(), Slot.hold_id.remove(), Slot.hold_expires_at.remove(),
                 Slot.hold_identity.remove(), Slot.freed_by.remove()],
        condition=(Slot.state == slot.state) & (Slot.state != domain.CLOSED)
        & (Slot.booking_id.does_not_exist() if not slot.booking_id else Slot.booking_id == slot.booking_id),
    )
    _count(tx, slot.site_id, slot.procedure_id, slot.starts_at, slot.slot_id, closed=1)
    booking = None
    if slot.state == domain.BOOKED and slot.booking_id:
        booking = get_booking(slot.booking_id)
        if booking is not None:
            tx.update("booking", Booking(booking.booking_id), actions=[Booking.status.set("closed")],
                      condition=Booking.status == "booked")
            tx.delete("active_booking", IdentityState(booking.identity_key, booking_scope(booking.procedure_id)),
                      condition=IdentityState.booking_id == booking.booking_id)
    elif slot.state == domain.HELD and slot.hold_id:
        hold = get_hold(slot.hold_id)
        if hold is not None and hold.status == "active":
            tx.update("hold", Hold(hold.hold_id), actions=[Hold.status.set("closed")],
                      condition=Hold.status == "active")
            tx.update("identity", IdentityState(hold.identity_key, HOLD_SCOPE),
                      actions=[IdentityState.hold_id.remove(), IdentityState.hold_expires_at.remove(),
                               IdentityState.hold_lapse_until.remove()],
                      condition=IdentityState.hold_id == hold.hold_id)
    tx.add_all(also(booking))
    failed = tx.commit()
    if failed and set(failed) <= {"hold", "identity"}:
        raise Conflict("The slot changed while closing it; please retry.", code="state_changed")
    if failed:
        raise Conflict("This slot cannot be closed in its current state.", code="slot_not_closable")
    return booking


def history_of(*entity_ids):
    """The entries of several entities by time; at the same instant (one transaction), in the
    order the entities are given (a hold before the booking it became)."""
    entries = []
    with _storage_call():
        for rank, entity_id in enumerate(entity_ids):
            if entity_id:
                entries += [(e.at.split("#", 1)[0], rank, e.at, e) for e in AuditEntry.query(entity_id)]
    return [e for *_, e in sorted(entries, key=lambda t: t[:3])]


# --- reminders -------------------------------------------------------------------------------


def bookings_of_day(site_id, day):
    with _storage_call():
        return list(Booking.day.query(f"{site_id}#{day}", filter_condition=Booking.status == "booked"))


def mark_reminded_once(booking, now):
    """True if this call set reminded_at (the stream then sends the reminder); False if another
    run did it first or the booking is no longer booked."""
    with _storage_call():
        try:
            Booking(booking.booking_id).update(
                actions=[Booking.reminded_at.set(now)],
                condition=Booking.reminded_at.does_not_exist() & (Booking.status == "booked"),
            )
            return True
        except PynamoDBException as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise


guard_public_functions(globals())
