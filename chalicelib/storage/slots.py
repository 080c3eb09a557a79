"""Slots and holds: publishing slots, the search, holding, releasing and closing a slot."""
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from chalicelib.rules import identity_keys, lifecycle, records
from chalicelib.rules.lifecycle import IpLimit
from chalicelib.rules.oversight import PartnerQuota
from chalicelib.rules.proofs import ProofCheck
from chalicelib.rules.records import Outcome
from chalicelib.storage import cursors, values
from chalicelib.storage.audit import add_entries
from chalicelib.storage.calls import RawItem, batch_get, get, guard_public_functions, query, query_all, update, update_if
from chalicelib.storage.conditions import (
    booking_scope,
    check_no_active_booking,
    check_proof,
    count_for_ip,
    count_partner_quota,
    end_hold,
    free_the_slot,
    ip_counter_key,
    search_partition,
    slot_free_for_a_draw,
    slot_held_by,
    slot_holdable,
    slot_not_reserved,
    take_hold,
)
from chalicelib.storage.figures import count_change_of, count_in, figures_item, freed_figure
from chalicelib.storage.models import Booking, Counter, Hold, IdentityState, Slot
from chalicelib.storage.signals import add_signals
from chalicelib.storage.transaction import Transaction

HOLDS_PER_IP = "holds-ip"  # the counter kind of holds per client IP and hour
_SLOTS_PER_TRANSACTION = 99  # and their day's counter: DynamoDB takes 100 items at most


def _number(raw_item: RawItem | None, name: str) -> float | None:
    value = (raw_item or {}).get(name, {}).get("N")
    return float(value) if value is not None else None


def write_entries(audit: Iterable[records.NewAuditEntry]) -> Outcome:
    """Audit entries (records.NewAuditEntry) written on their own, in one transaction: what a
    change that spans several transactions (a schedule) records first."""
    tx = Transaction()
    add_entries(tx, audit)
    return Outcome.of(tx.commit())


def create_slots_if_new(slots: Iterable[records.Slot]) -> Outcome:
    """Insert the slots (records.Slot) whose id is new; done with how many were new (the others
    exist already: an earlier publication of the same openings).

    The slots of one procedure, day and counter shard go together, up to 99 in a transaction
    with that counter's ADD, so the public figures count exactly the slots created; a
    transaction cancelled by slots that exist is sent again without them. Groups run on a few
    threads to finish a large schedule within API Gateway's time limit; no two threads share a
    counter item, so they never conflict. A schedule's audit entry is written first
    (write_entries), so no slot exists without its entry; if a group then fails (503),
    publishing again creates the missing slots only, with an entry of its own."""

    def create(batch: list[records.Slot]) -> int:
        while batch:
            tx = Transaction()
            for n, slot in enumerate(batch):
                tx.put(n, values.item(Slot, slot, search_pk=search_partition(slot.site_id, slot.procedure_id)),
                       Slot.slot_id.does_not_exist())
            first = batch[0]  # the batch shares its counter item (create_group)
            count_in(tx, first.site_id, first.procedure_id, first.starts_at, first.slot_id, published=len(batch))
            existing = {label for label in tx.commit() if label != "figures"}
            if not existing:
                return len(batch)
            batch = [slot for n, slot in enumerate(batch) if n not in existing]
        return 0

    def create_group(group: list[records.Slot]) -> int:
        return sum(create(group[i:i + _SLOTS_PER_TRANSACTION]) for i in range(0, len(group), _SLOTS_PER_TRANSACTION))

    groups: dict = {}
    for slot in slots:
        groups.setdefault(figures_item(slot.site_id, slot.procedure_id, slot.starts_at, slot.slot_id).sk, []).append(slot)
    with ThreadPoolExecutor(max_workers=8) as pool:
        return Outcome.done(sum(pool.map(create_group, groups.values())))


def get_slot(slot_id: str) -> records.Slot | None:
    return values.slot(get(Slot, slot_id))


def search_holdable_slots(site_id: str, procedure_id: str, from_key: str, to_key: str, limit: int, cursor: str | None, now: float,
                          include_reserved: bool = False, keep: Callable[[records.Slot], bool] = lambda _: True) -> tuple[list[records.Slot], str | None]:
    """One page of holdable slots (and that `keep` keeps: not the next draw's): Queries on the
    sparse search index, filtered to those whose available_from has passed (which also hides
    held, scheduled and quarantined slots), until the page is full (cursors.query_filled: usually
    one Query; a bounded few where many slots are hidden). The cursor is the last slot's."""
    search_pk = search_partition(site_id, procedure_id)
    key_names = ("slot_id", "search_pk", "starts_at")
    start_key: RawItem | cursors.Ended | None  # resume_within may say the window has ENDED
    start_key = cursors.decode(cursor, key_names, ("search_pk", search_pk)) if cursor else None
    start_key = cursors.resume_within(start_key, "starts_at", from_key, to_key)
    if start_key is cursors.ENDED:
        return [], None
    found, next_cursor = cursors.query_filled(
        Slot, "search_pk", search_pk, limit, start_key, key_names, lambda item: keep(values.slot(item)),
        index=Slot.search, range_key_condition=Slot.starts_at.between(from_key, to_key),
        filter_condition=(Slot.available_from <= now) if include_reserved else (Slot.available_from <= now) & slot_not_reserved(now),
    )
    return [values.slot(s) for s in found], next_cursor


def hold_slot_if_available(slot: records.Slot, hold: records.Hold, now: float, available_from_after: float, lapse_until: float, ip_limit: IpLimit | None,
                           partner_quota: PartnerQuota | None = None, audit: Iterable[records.NewAuditEntry] = (),
                           signals: Iterable[records.NewSignal] = (), proof: ProofCheck | None = None) -> Outcome:
    """R1-R4, R8, R10 in one transaction: the identity token proves the hold's identity (`proof`,
    where the procedure checks identities), the slot is holdable (uniform rule), the identity has no
    active hold, no cooldown and no active booking for the procedure, the client IP is under its
    hourly limit. Returns what failed (refusals.hold_refusal chooses the answer), with the
    identity's hold expiry, lapse and cooldown ends when its condition failed.

    A partner's hold (partner_quota given) may take a reserved slot and counts against the
    partner's daily quota instead of the per-IP limit. `audit` (records.NewAuditEntry) and
    `signals` (records.NewSignal) are written in the same transaction."""
    tx = Transaction()
    tx.update(
        "slot",
        Slot(slot.slot_id),
        actions=[
            Slot.state.set(lifecycle.HELD),
            Slot.hold_id.set(hold.hold_id),
            Slot.hold_expires_at.set(hold.expires_at),
            Slot.hold_identity.set(identity_keys.slot_tag(hold.identity_key, slot.slot_id)),
            Slot.available_from.set(available_from_after),
            # R11: a hold uses up a partner reservation; whatever frees the slot (release,
            # cancellation, a lapse that writes nothing) routes it like any freed slot.
            Slot.reserved_until.remove(),
            Slot.hold_partner.set(hold.partner_id) if hold.partner_id else Slot.hold_partner.remove(),
        ],
        condition=slot_holdable(now) if partner_quota else slot_holdable(now) & slot_not_reserved(now),
    )
    take_hold(tx, hold, lapse_until, now, return_old=True)
    check_no_active_booking(tx, hold.identity_key, hold.procedure_id, now)
    check_proof(tx, proof, now)
    if ip_limit:
        count_for_ip(tx, HOLDS_PER_IP, ip_limit)
    if partner_quota:
        count_partner_quota(tx, partner_quota)
    tx.put("hold", values.item(Hold, hold), Hold.hold_id.does_not_exist())
    add_entries(tx, audit)
    add_signals(tx, signals)
    failed = tx.commit()
    old = failed.get("identity")
    facts = {name: _number(old, name) for name in ("hold_expires_at", "hold_lapse_until", "cooldown_until")} if old is not None else {}
    return Outcome.of(failed, facts)


def count_refused_hold(ip: str, window: tuple[int, int]) -> None:
    """A refused hold attempt counts against its client IP's hourly limit like a taken hold (the
    refused transaction counted nothing): one UpdateItem on the counter the hold's condition
    reads, so refusals are no free probes (R8, R10)."""
    counter = Counter(ip_counter_key(HOLDS_PER_IP, ip, window))
    # The window's counter: created or incremented, whichever comes first; the cap is the next
    # hold's condition, so a count past it changes no answer but that one's.
    update(counter, [Counter.n.add(1), Counter.expires_ttl.set(window[1])],
           Counter.counter_key.does_not_exist() | Counter.counter_key.exists())


def get_hold(hold_id: str) -> records.Hold | None:
    return values.hold(get(Hold, hold_id))


def release_hold_if_active(hold: records.Hold, now: float, available_from: float | None, cooldown_until: float | None,
                           audit: Iterable[records.NewAuditEntry] = (), draw_from: float | None = None) -> Outcome:
    """Free a held slot into quarantine and start the identity's cooldown, only while the hold is
    still active (an expired hold has already freed the slot at its own hidden instant), with its
    audit entries."""
    tx = Transaction()
    free_the_slot(tx, hold, available_from, draw_from, slot_held_by(hold.hold_id, now))
    tx.update(
        "hold",
        Hold(hold.hold_id),
        actions=[Hold.status.set("released")],
        condition=(Hold.status == "active") & (Hold.expires_at > now),
    )
    count_change_of(tx, hold, **freed_figure(available_from))
    end_hold(tx, hold, cooldown_until)
    add_entries(tx, audit)
    return Outcome.of(tx.commit())


def close_slot_if_open_to_change(slot: records.Slot, booking: records.Booking | None, now: float, audit: Iterable[records.NewAuditEntry] = ()) -> Outcome:
    """Staff close a slot: never offered again (closed, out of the search index). Its booking
    (`booking`, as read for a booked slot; else None) becomes `closed` and frees its identity's
    one-booking lock; a hold on it ends without cooldown. With its audit entries."""
    tx = Transaction()
    tx.update(
        "slot",
        Slot(slot.slot_id),
        actions=[Slot.state.set(lifecycle.CLOSED), Slot.search_pk.remove(), Slot.hold_id.remove(), Slot.hold_expires_at.remove(),
                 Slot.hold_identity.remove(), Slot.freed_by.remove()],
        condition=(Slot.state == slot.state) & (Slot.state != lifecycle.CLOSED)
        & (Slot.booking_id.does_not_exist() if not slot.booking_id else Slot.booking_id == slot.booking_id),
    )
    count_in(tx, slot.site_id, slot.procedure_id, slot.starts_at, slot.slot_id, closed=1)
    if booking is not None:
        tx.update("booking", Booking(booking.booking_id), actions=[Booking.status.set("closed")],
                  condition=Booking.status == "booked")
        tx.delete("active_booking", IdentityState(booking.identity_key, booking_scope(booking.procedure_id)),
                  condition=IdentityState.booking_id == booking.booking_id)
    elif slot.state == lifecycle.HELD and slot.hold_id:
        hold = get(Hold, slot.hold_id)
        if hold is not None and hold.status == "active":
            tx.update("hold", Hold(hold.hold_id), actions=[Hold.status.set("closed")],
                      condition=Hold.status == "active")
            end_hold(tx, hold)
    add_entries(tx, audit)
    return Outcome.of(tx.commit())


# --- what a draw reads and leaves -------------------------------------------------------------

def free_slots(site_id: str, procedure_id: str, from_key: str, to_key: str, now: float) -> list[records.Slot]:
    """The slots a draw may give (free, or marked for the draw), from the search index."""
    return [values.slot(s) for s in query_all(Slot, search_partition(site_id, procedure_id), Slot.starts_at.between(from_key, to_key),
                                              index=Slot.search, filter_condition=slot_free_for_a_draw(now))]


def holdable_slots_between(site_id: str, procedure_id: str, from_key: str, to_key: str, now: float) -> list[records.Slot]:
    """Every slot of the range the public could hold now (the uniform rule, not reserved, not
    started): Query pages of the search index (a withdrawn standby request's days, never a search)."""
    found = query_all(Slot, search_partition(site_id, procedure_id), Slot.starts_at.between(from_key, to_key), index=Slot.search,
                      filter_condition=(Slot.available_from <= now) & slot_not_reserved(now) & Slot.state.is_in(*lifecycle.HOLDABLE_STATES))
    return [values.slot(s) for s in found]


HOLDABLE_CHECK_PAGE = 100  # the items each Query of any_holdable_slot evaluates


def any_holdable_slot(site_id: str, procedure_id: str, from_key: str, to_key: str, now: float, keep: Callable[[records.Slot], bool]) -> bool:
    """Is any slot of the range one the public could hold now (the uniform rule, not reserved,
    not started) and that `keep` keeps? Query pages of the search index, stopping at the first
    such slot: a standby request refused because slots are free reads one page, not the range."""
    start_key: RawItem | None = None
    while True:
        page, start_key = query(Slot, search_partition(site_id, procedure_id), Slot.starts_at.between(from_key, to_key), index=Slot.search,
                                limit=HOLDABLE_CHECK_PAGE, start_key=start_key,
                                filter_condition=(Slot.available_from <= now) & slot_not_reserved(now) & Slot.state.is_in(*lifecycle.HOLDABLE_STATES))
        if any(keep(values.slot(Slot.from_raw_data(raw))) for raw in page):
            return True
        if start_key is None:
            return False


def release_draw_leftover_if_unchanged(slot: records.Slot, now: float, available_from: float | None) -> Outcome:
    """A free slot that a draw did not give away goes to search at a random instant (or, None, to
    the counter), only if nobody took or moved it since the draw read it (refused: "slot")."""
    actions = ([Slot.state.set(lifecycle.FREED_LATE), Slot.search_pk.remove()] if available_from is None
               else [Slot.available_from.set(available_from)])
    condition = (Slot.state.is_in(*lifecycle.HOLDABLE_STATES) & (Slot.available_from == slot.available_from)
                 & slot_free_for_a_draw(now) & Slot.search_pk.exists())
    if available_from is None:  # counted in the public figures, so with its counter
        tx = Transaction()
        tx.update("slot", Slot(slot.slot_id), actions=[*actions, Slot.draw_from.remove()], condition=condition)
        count_in(tx, slot.site_id, slot.procedure_id, slot.starts_at, slot.slot_id, freed_late=1)
        return Outcome.of(tx.commit())
    return update_if(Slot(slot.slot_id), [*actions, Slot.draw_from.remove()], condition, label="slot")


def slots_by_id(slot_ids: Iterable[str]) -> dict[str, records.Slot]:
    return {s.slot_id: values.slot(s) for s in batch_get(Slot, slot_ids, consistent_read=True)}


guard_public_functions(globals())
