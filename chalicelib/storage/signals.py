"""R9 signal counters: items the transactions that cause them carry, and the days staff read."""
from datetime import datetime, timezone
from zlib import crc32

from chalicelib.platform import config
from chalicelib.rules import records
from chalicelib.storage import values
from chalicelib.storage.calls import guard_public_functions, query_all, update
from chalicelib.storage.models import SignalCount

# A day's signal items are spread over this many partitions by their subject: every hold and
# draw request updates one, and a single partition takes at most 1,000 write units a second.
SIGNAL_SHARDS = 8


def _signal_item(now, at, **attributes):
    """The day's counter item `at` ("<kind>#<subject>"), in its shard of the day's partitions."""
    day = datetime.fromtimestamp(now, timezone.utc).date().isoformat()
    return SignalCount(f"signals#{day}#{crc32(at.encode()) % SIGNAL_SHARDS}", at, **attributes)


def _signal_purge_at(now):
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
    update(item, actions, condition)


def signals_of_day(day):
    """The day's signal items: one Query per shard."""
    return [values.read(records.Signal, item) for shard in range(SIGNAL_SHARDS) for item in query_all(SignalCount, f"signals#{day}#{shard}")]


guard_public_functions(globals())
