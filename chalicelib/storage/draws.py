"""Requests and draws (R6): filing and withdrawing requests, verifiable draws, their records and
their offers."""
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.rules import identity_keys, lifecycle, records
from chalicelib.rules.errors import StorageUnavailable
from chalicelib.rules.lifecycle import IpLimit
from chalicelib.rules.oversight import PartnerQuota
from chalicelib.rules.proofs import ProofCheck
from chalicelib.rules.records import Outcome
from chalicelib.storage import cursors, values
from chalicelib.storage.audit import add_entries
from chalicelib.storage.calls import batch_get, get, guard_public_functions, query_all, save_if, update_if
from chalicelib.storage.conditions import (
    HOLD_SCOPE,
    check_no_active_booking,
    check_proof,
    count_for_ip,
    count_partner_quota,
    count_under_cap,
    end_hold,
    free_the_slot,
    identity_not_cooling_down,
    request_scope,
    search_partition,
    slot_drawable,
    slot_held_by,
    slot_not_reserved,
    take_hold,
)
from chalicelib.storage.figures import count_change_of, freed_figure
from chalicelib.storage.models import Draw, DrawRecordChunk, Hold, IdentityState, Request, Slot
from chalicelib.storage.signals import add_signals
from chalicelib.storage.transaction import Transaction

# --- requests ---------------------------------------------------------------------------------


def _identity_may_enter(tx: Transaction, identity: str, procedure_id: str, now: float) -> None:
    """Conditions shared by filing a request: no cooldown (R4) and no active booking (R2)."""
    tx.check("cooldown", IdentityState, identity, HOLD_SCOPE, condition=identity_not_cooling_down(now))
    check_no_active_booking(tx, identity, procedure_id, now)


def count_request_attempt(ip_limit: IpLimit) -> Outcome:
    """R8: one more standby request from this client IP in its hour, counted before anything is read
    (a refused attempt costs as a filed one does). Refused ("ip") at the cap."""
    tx = Transaction()
    count_for_ip(tx, "requests-ip", ip_limit)
    return Outcome.of(tx.commit())


def first_acknowledgement_today(address_digest: str, window: tuple[int, int]) -> Outcome:
    """R8: the first ask of an address's UTC day for a request acknowledgement is counted and ok, every later
    one refused ("address"). `address_digest`: a keyed hash (the address is not kept); expires with its day."""
    tx = Transaction()
    count_under_cap(tx, "address", f"ack#{address_digest}#{window[0]}", window[1], 1)
    return Outcome.of(tx.commit())


def file_request_if_allowed(request: records.Request, request_ends_at: float, now: float, partner_quota: PartnerQuota | None = None,
                            signals: Iterable[records.NewSignal] = (), proof: ProofCheck | None = None) -> Outcome:
    """R6 + R2 + R4 + R8: one live request per identity and procedure, none while in cooldown or
    holding a booking for the procedure, and for a partner's request one more on its daily quota
    (shared with its holds); the request (records.Request) enters the pool of the next draw,
    with its signals. Returns what failed, with the identity's lapse and cooldown ends if its
    cooldown did. (The client IP's attempt was counted before: count_request_attempt.)"""
    tx = Transaction()
    tx.put("request", values.item(Request, request, pool_pk=search_partition(request.site_id, request.procedure_id)),
           Request.request_id.does_not_exist())
    if partner_quota:
        count_partner_quota(tx, partner_quota)
    tx.update(
        "scope",
        IdentityState(request.identity_key, request_scope(request.procedure_id)),
        actions=[
            IdentityState.request_id.set(request.request_id),
            IdentityState.request_ends_at.set(request_ends_at),
            IdentityState.purge_at.set(request.purge_at),
        ],
        condition=IdentityState.request_id.does_not_exist() | (IdentityState.request_ends_at <= now),
    )
    _identity_may_enter(tx, request.identity_key, request.procedure_id, now)
    check_proof(tx, proof, now)  # R10: the identity token proves this identity (if the procedure checks identities)
    add_signals(tx, signals)
    failed = tx.commit()
    identity = get(IdentityState, request.identity_key, HOLD_SCOPE) if "cooldown" in failed and "proof" not in failed else None
    facts = {"hold_lapse_until": identity.hold_lapse_until, "cooldown_until": identity.cooldown_until} if identity else {}
    return Outcome.of(failed, facts)


def get_request(request_id: str) -> records.Request | None:
    return values.request(get(Request, request_id))


def withdraw_request_if_live(request: records.Request, now: float, offer: records.Hold | None = None, available_from: float | None = None,
                             cooldown_until: float | None = None, draw_from: float | None = None) -> Outcome:
    """Withdraw a waiting request; an offered one also gives its offer back (the slot to the next
    draw, the identity into cooldown), in the same transaction. Returns what failed."""
    tx = Transaction()
    live = (Request.status == "waiting") if offer is None else ((Request.status == "offered") & (Request.hold_id == offer.hold_id))
    tx.update("request", Request(request.request_id),
              actions=[Request.status.set("withdrawn"), Request.pool_pk.remove()], condition=live)
    tx.update(
        "scope",
        IdentityState(request.identity_key, request_scope(request.procedure_id)),
        actions=[IdentityState.request_ends_at.set(now)],
        condition=IdentityState.request_id == request.request_id,
    )
    if offer is not None:
        free_the_slot(tx, offer, available_from, draw_from, slot_held_by(offer.hold_id, now))
        tx.update("hold", Hold(offer.hold_id), actions=[Hold.status.set("released")],
                  condition=(Hold.status == "active") & (Hold.expires_at > now))
        count_change_of(tx, offer, **freed_figure(available_from))
        end_hold(tx, offer, cooldown_until)
    return Outcome.of(tx.commit())


def waiting_requests(site_id: str, procedure_id: str) -> list[records.Request]:
    return [values.request(r) for r in query_all(Request, search_partition(site_id, procedure_id), index=Request.pool)]


def requests_by_id(request_ids: Iterable[str]) -> dict[str, records.Request]:
    """Requests by id (BatchGetItem), for a resumed draw's offers."""
    return {r.request_id: values.request(r) for r in batch_get(Request, request_ids, consistent_read=True)}


# --- offers -----------------------------------------------------------------------------------

def make_offer_if_still_possible(request: records.Request, slot: records.Slot, hold: records.Hold, now: float, lapse_until: float,
                                 available_from_after: float | None = None, signals: Iterable[records.NewSignal] = ()) -> Outcome:
    """A draw's offer: the slot is held for the request's identity with the offer's expiry, in one
    transaction with the request (still waiting) and the identity (no hold, no cooldown); the slot
    comes back at `available_from_after` (default: the offer's expiry, for the next draw) if the
    offer lapses. Returns what failed ("hold": this offer exists already, its id being derived
    from the draw and the request; anything else: something changed since the draw read them):
    refusals.offer_outcome says what it means."""
    tx = Transaction()
    back = hold.expires_at if available_from_after is None else available_from_after
    tx.update(
        "slot",
        Slot(slot.slot_id),
        actions=[Slot.state.set(lifecycle.HELD), Slot.hold_id.set(hold.hold_id), Slot.hold_expires_at.set(hold.expires_at),
                 Slot.hold_identity.set(identity_keys.slot_tag(hold.identity_key, slot.slot_id)), Slot.available_from.set(back),
                 Slot.draw_from.remove(), Slot.reserved_until.remove(),
                 # R11: an offer uses up a reservation, as a hold does
                 Slot.hold_partner.set(request.partner_id) if request.partner_id else Slot.hold_partner.remove()],
        condition=slot_drawable(now) if request.partner_id else (slot_drawable(now) & slot_not_reserved(now)),
    )
    tx.put("hold", values.item(Hold, hold), Hold.hold_id.does_not_exist())
    take_hold(tx, hold, lapse_until, now)
    tx.update(
        "request",
        Request(request.request_id),
        # The pool index's "notify#" partition lists offers whose e-mail is not sent yet: written
        # here, in the offer's own transaction, so an offer is never made without its e-mail pending.
        actions=[Request.status.set("offered"), Request.pool_pk.set(_notify_pool(request.site_id, request.procedure_id)),
                 Request.hold_id.set(hold.hold_id),
                 Request.offer_expires_at.set(hold.expires_at)],
        condition=Request.status == "waiting",
    )
    tx.update(
        "scope",
        IdentityState(request.identity_key, request_scope(request.procedure_id)),
        actions=[IdentityState.request_ends_at.set(hold.expires_at)],
        condition=IdentityState.request_id == request.request_id,
    )
    add_signals(tx, signals)
    return Outcome.of(tx.commit())


def _notify_pool(site_id: str, procedure_id: str) -> str:
    return f"notify#{site_id}#{procedure_id}"


def offers_to_notify(site_id: str, procedure_id: str) -> list[records.Request]:
    """Requests whose offer e-mail is still to send (sparse: the pool index's notify partition)."""
    return [values.request(r) for r in query_all(Request, _notify_pool(site_id, procedure_id), index=Request.pool)]


def offer_notified(request: records.Request) -> Outcome:
    """Out of the notify partition, once its e-mail went (or it is no longer an offer)."""
    return update_if(Request(request.request_id), [Request.pool_pk.remove()],
                     Request.pool_pk == _notify_pool(request.site_id, request.procedure_id), label="request")


# --- draws ------------------------------------------------------------------------------------

def draws_of(site_id: str, procedure_id: str, limit: int = 20) -> list[records.Draw]:
    """The latest draws first (the first one may be committed and not yet run)."""
    return [values.draw(d) for d in query_all(Draw, search_partition(site_id, procedure_id), scan_index_forward=False, limit=limit)]


def draws_page(site_id: str, procedure_id: str, limit: int, cursor: str | None) -> tuple[list[records.Draw], str | None]:
    """One page of a procedure's draws, latest first (ONE Query): draw items only, never their
    record, so a page's size is bounded by `limit`. Returns (draws, next cursor or None)."""
    draw_pk = search_partition(site_id, procedure_id)
    start_key = cursors.decode(cursor, ("draw_pk", "draw_id"), ("draw_pk", draw_pk)) if cursor else None
    found, next_cursor = cursors.query_page(Draw, "draw_pk", draw_pk, limit, start_key, scan_index_forward=False)
    return [values.draw(d) for d in found], next_cursor


def get_draw(site_id: str, procedure_id: str, draw_id: str) -> records.Draw | None:
    return values.draw(get(Draw, search_partition(site_id, procedure_id), draw_id))


def _item(draw: records.Draw) -> Draw:
    return Draw(search_partition(draw.site_id, draw.procedure_id), draw.draw_id)


def commit_draw_if_none_pending(draw: records.Draw) -> Outcome:
    """A new draw's commitment (records.Draw); refused ("draw") if a draw with its id exists."""
    saved = save_if(values.item(Draw, draw, draw_pk=search_partition(draw.site_id, draw.procedure_id)), Draw.draw_id.does_not_exist(),
                    label="draw")
    return Outcome.of(saved.conditions, value=draw)


def _update_draw_if(draw: records.Draw, actions: Sequence[Action], condition: Condition) -> Outcome:
    """Done with the draw as stored after the update, or refused ("draw")."""
    item = _item(draw)
    updated = update_if(item, actions, condition, label="draw")
    return Outcome.of(updated.conditions, value=values.draw(item) if updated.ok else None)


def claim_committed_draw(draw: records.Draw, now: float, runner: str, lease_until: float, staff: records.StaffRun | None = None) -> Outcome:
    """Only one runner gets a committed draw (scheduler and staff may race); it holds it until
    lease_until unless it renews. A staff run keeps who ran it and an early run's reason on the
    draw, and its audit entry in the same transaction."""
    actions = [Draw.status.set("running"), Draw.run_at.set(now), Draw.runner.set(runner), Draw.lease_until.set(lease_until),
               Draw.attempt.set(1)]
    if staff is None:
        return _update_draw_if(draw, actions, Draw.status == "committed")
    actions.append(Draw.run_by.set(f"staff:{staff.subject}"))
    if staff.early_reason:
        actions.append(Draw.early_reason.set(staff.early_reason))
    tx = Transaction()
    tx.update("draw", _item(draw), actions=actions, condition=Draw.status == "committed")
    add_entries(tx, [staff.audit])
    failed = tx.commit()
    return Outcome.of(failed, value=None if failed else get_draw(draw.site_id, draw.procedure_id, draw.draw_id))


def take_over_stale_draw(draw: records.Draw, now: float, runner: str, lease_until: float) -> Outcome:
    """A running or allocating draw whose runner's lease has passed (it crashed or timed out)
    goes to `runner`, only if nobody changed it since `draw` was read: of two runs resuming it,
    one wins."""
    held_by = (Draw.runner == draw.runner) if draw.runner else Draw.runner.does_not_exist()
    stale = Draw.lease_until.does_not_exist() | (Draw.lease_until <= now)
    return _update_draw_if(
        draw,
        [Draw.runner.set(runner), Draw.lease_until.set(lease_until), Draw.attempt.add(1), Draw.resumed.add(1)],
        (Draw.status == draw.status) & held_by & stale,
    )


def _progress(progress: tuple[int, int, int]) -> list[Action]:
    done, offered, skipped = progress
    return [Draw.offers_done.set(done), Draw.offered_count.set(offered), Draw.skipped_count.set(skipped)]


def renew_draw_lease(draw: records.Draw, runner: str, lease_until: float, progress: tuple[int, int, int] | None = None) -> Outcome:
    """The runner's heartbeat, with its progress (offers done, offered, skipped) if it makes
    offers; refused if another run took the draw over meanwhile."""
    return _update_draw_if(
draw, [Draw.lease_until.set(lease_until)] + (_progress(progress) if progress else []),
                           (Draw.runner == runner) & Draw.status.is_in("running", "allocating"))


def release_draw(draw: records.Draw, runner: str, now: float, progress: tuple[int, int, int]) -> Outcome:
    """The runner stops at its time budget: its progress saved, the draw is free for the next run
    at once (no runner, lease over)."""
    return _update_draw_if(
draw, [Draw.runner.remove(), Draw.lease_until.set(now)] + _progress(progress),
                           (Draw.runner == runner) & (Draw.status == "allocating"))


def mark_draw_recorded(draw: records.Draw, runner: str, parts: dict[str, int], counts: dict[str, int], now: float, lease_until: float,
                       revealed: dict[str, str]) -> Outcome:
    """running -> allocating, by its runner only: the record is complete (attempt and chunk
    counts say where), so the seed (`revealed["seed"]`, until now only sealed) is written in
    clear from now on, with the entrants' hash, before any offer exists."""
    assert draw.attempt is not None, "a running draw has its attempt"
    return _update_draw_if(
        draw,
        [Draw.status.set("allocating"), Draw.record_attempt.set(draw.attempt), Draw.record_parts.set(parts),
         Draw.recorded_at.set(now), Draw.lease_until.set(lease_until), Draw.entrant_count.set(counts["entrants"]),
         Draw.slot_count.set(counts["slots"]), Draw.allocated_count.set(counts["allocation"]),
         Draw.seed.set(revealed["seed"]), Draw.entrants_hash.set(revealed["entrants_hash"]), Draw.seed_sealed.remove()],
        (Draw.status == "running") & (Draw.runner == runner),
    )


def mark_draw_run(draw: records.Draw, runner: str, offered: int, skipped: int, now: float) -> Outcome:
    """allocating -> run, by its runner only, with the outcome of the offers."""
    return _update_draw_if(
        draw,
        [Draw.status.set("run"), Draw.offered_count.set(offered), Draw.skipped_count.set(skipped), Draw.done_at.set(now)],
        (Draw.status == "allocating") & (Draw.runner == runner),
    )


# --- draw records -----------------------------------------------------------------------------

# A chunk's items as JSON stay under this many bytes: DynamoDB's item limit is 400 KB, keys and
# attribute names included. One entrant or slot is a few hundred bytes.
RECORD_CHUNK_BYTES = 300_000
RECORD_PARTS = ("entrants", "slots", "allocation")


def _record_pk(draw: records.Draw, attempt: int | None) -> str:
    """Each attempt writes its own chunks: a draw re-run before its record was complete (same
    seed, entrants and slots read again) never mixes with the partial record of the crashed run."""
    assert attempt is not None, "a draw being recorded has its attempt"
    return f"record#{search_partition(draw.site_id, draw.procedure_id)}#{draw.draw_id}#{int(attempt)}"


def _chunks(items: Iterable[Any], budget: int) -> Iterator[list[Any]]:
    """Consecutive runs of `items` whose JSON (as JSONAttribute writes it) fits in `budget` bytes;
    at least one, possibly empty, so that every part of a record exists."""
    chunk: list = []
    size = 2
    for item in items:
        encoded = len(json.dumps(item)) + 2
        if chunk and size + encoded > budget:
            yield chunk
            chunk, size = [], 2
        chunk.append(item)
        size += encoded
    yield chunk


def _put_record_chunk(chunk: DrawRecordChunk) -> Outcome:
    """Create a chunk; the same chunk already there (a put retried after it landed) is fine.
    Refused ("chunk"): another run wrote a different one."""
    return save_if(chunk, DrawRecordChunk.draw_id.does_not_exist() | (DrawRecordChunk.digest == chunk.digest), label="chunk")


def record_draw_chunks(draw: records.Draw, attempt: int, parts: dict[str, list[Any]], after_each: Callable[[], object] | None = None) -> Outcome:
    """Write a draw's record ahead of its offers: each part ({"entrants": [...], ...}) split into
    chunks of at most RECORD_CHUNK_BYTES, each one conditional put. Done with {part: chunks}.
    `after_each` runs after every chunk (the runner renews its lease). Refused ("chunk") if
    another run wrote a different chunk of this attempt."""
    counts = {}
    for part in RECORD_PARTS:
        counts[part] = 0
        for index, items in enumerate(_chunks(parts[part], RECORD_CHUNK_BYTES)):
            digest = hashlib.sha256(json.dumps(items).encode()).hexdigest()
            put = _put_record_chunk(DrawRecordChunk(_record_pk(draw, attempt), f"{part}#{index:05d}", items=items, digest=digest))
            if not put.ok:
                return put
            counts[part] = index + 1
            if after_each:
                after_each()
    return Outcome.done(counts)


def read_draw_record(draw: records.Draw) -> dict[str, list[Any]]:
    """The whole recorded record of an allocating or run draw, {part: [items]} (a resumed run's
    input): strongly consistent, and checked complete against the chunk counts."""
    parts: dict[str, list] = {part: [] for part in RECORD_PARTS}
    seen = dict.fromkeys(RECORD_PARTS, 0)
    chunks = query_all(DrawRecordChunk, _record_pk(draw, draw.record_attempt), consistent_read=True)
    for chunk in chunks:
        part = chunk.draw_id.split("#")[0]
        parts[part].extend(chunk.items)
        seen[part] += 1
    if seen != draw.record_parts:
        raise StorageUnavailable()
    return parts


def draw_record_chunk(draw: records.Draw, part: str, cursor: str | None) -> tuple[list[Any], str | None]:
    """One page of a recorded draw's part: ONE GetItem of one chunk (so a page is at most
    RECORD_CHUNK_BYTES of items). The cursor is the page's chunk key; returns (items, next
    cursor or None)."""
    assert draw.record_parts is not None, "a recorded draw has its chunk counts"
    record_pk = _record_pk(draw, draw.record_attempt)
    index = 0
    if cursor:
        key = cursors.decode(cursor, ("draw_pk", "draw_id"), ("draw_pk", record_pk))
        name, _, number = key["draw_id"]["S"].partition("#")
        if name != part or not number.isdigit() or int(number) + 1 >= draw.record_parts[part]:
            cursors.refuse()
        index = int(number) + 1
    sort_key = f"{part}#{index:05d}"
    chunk = get(DrawRecordChunk, record_pk, sort_key)
    if chunk is None:
        raise StorageUnavailable()  # counted at recording: only a lagging replica misses one
    more = index + 1 < draw.record_parts[part]
    return chunk.items, (cursors.encode({"draw_pk": {"S": record_pk}, "draw_id": {"S": sort_key}}, ("draw_pk", record_pk))
                         if more else None)


guard_public_functions(globals())
