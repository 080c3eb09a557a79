"""Storage: the only module that reads or writes DynamoDB.

Every write names its condition; every change of several items is one transaction. Function
names say what the write guarantees. Failures come back as typed errors from chalicelib.errors:
a failed condition as the conflict it means, throttling or an unreachable engine as 503.
"""
import base64
import binascii
import json
import random
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import wraps

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException, TransactWriteError

from chalicelib import domain
from chalicelib.clock import epoch_of, utc_key
from chalicelib import config
from chalicelib.errors import Conflict, Expired, InvalidField, StorageUnavailable, TooManyRequests
from chalicelib.models import (
    ALL_MODELS,
    FIGURE_SHARDS,
    TTL_ATTRIBUTES,
    Booking,
    Counter,
    Hold,
    Draw,
    DrawRecordChunk,
    IdentityState,
    Policy,
    Request,
    Site,
    SiteFigures,
    Slot,
)

HOLD_SCOPE = "hold"
_CONTENTION = {"TransactionConflict"}
_UNAVAILABLE = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "ThrottlingError",
    "TransactionInProgressException",
    "TransactionConflictException",  # a single-item write on an item a transaction is changing
}
_jitter = random.Random()
_connection = None
_connection_lock = threading.Lock()


def booking_scope(procedure_id):
    return f"booking#{procedure_id}"


def _tx_connection():
    """The one DynamoDB connection (and botocore client) every model and transaction shares.

    Created once under a lock: PynamoDB builds a client lazily per model, and threads racing
    to do so (chalice local serves each request on a thread) built dozens of clients, ~8 MB each.
    In Lambda one client instead of seven also means less work on the first request."""
    global _connection
    if _connection is None:
        with _connection_lock:
            if _connection is None:
                from pynamodb.connection import Connection

                shared = Connection(
                    region=config.current().region,
                    host=config.current().dynamodb_endpoint,
                    connect_timeout_seconds=2,
                    read_timeout_seconds=config.current().dynamodb_read_timeout_seconds,
                    max_retry_attempts=config.current().dynamodb_max_retries,
                    max_pool_connections=50,
                )
                shared.client  # noqa: B018 -- build the client now, under the lock
                shared._make_api_call = _retrying(shared._make_api_call)  # type: ignore[method-assign]  # the one retry point
                for model in ALL_MODELS + (Policy, SiteFigures):
                    table = model._get_connection()
                    if table.table_name not in shared._tables:
                        shared.add_meta_table(table.connection.get_meta_table(table.table_name))
                    table.connection = shared
                _connection = shared
    return _connection


def _transient(exc):
    """Did DynamoDB refuse this call without applying it, so that trying again may succeed?
    Throttling, an internal error, or a transaction cancelled by another one in flight on the
    same item (TransactionConflict) with no condition of its own failed. Timeouts and
    connection errors are not: botocore already retried them, and their outcome is unknown."""
    if not isinstance(exc, ClientError):
        return False
    code = exc.response.get("Error", {}).get("Code")
    if code in _UNAVAILABLE:
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = {r.code for r in getattr(exc, "cancellation_reasons", None) or () if r is not None}
    return bool(reasons & (_CONTENTION | _UNAVAILABLE)) and "ConditionalCheckFailed" not in reasons


def _pause(seconds):
    time.sleep(seconds)


def _retrying(call):
    """Every DynamoDB call of the shared connection, tried up to STORAGE_ATTEMPTS times while its
    failure is transient, with full jitter (a random pause up to 50 ms, 100 ms, 200 ms...) so
    that the callers who collided do not collide again. A transaction carries its own
    ClientRequestToken (_Transaction), so trying it again never applies it twice."""

    def attempt(operation_name, operation_kwargs):
        for n in range(config.current().storage_attempts):
            try:
                return call(operation_name, operation_kwargs)
            except ClientError as exc:
                if not _transient(exc) or n + 1 >= config.current().storage_attempts:
                    raise
                _pause(_jitter.uniform(0, min(1.0, 0.05 * 2 ** n)))

    return attempt


def _unavailable(exc):
    """Is this failure the storage's (throttled, timed out, unreachable) rather than a condition?"""
    cause = getattr(exc, "cause", None)
    if isinstance(exc, BotoCoreError) or isinstance(cause, BotoCoreError):
        return True
    code = exc.cause_response_code if isinstance(exc, PynamoDBException) and isinstance(cause, ClientError) else None
    return code is None or code in _UNAVAILABLE


@contextmanager
def _storage_call():
    """Throttling, timeouts and an unreachable engine become a 503 with Retry-After."""
    try:
        _tx_connection()
        yield
    except TransactWriteError:
        raise
    except (PynamoDBException, BotoCoreError) as exc:
        if _unavailable(exc):
            raise StorageUnavailable()
        raise


class _Transaction:
    """A TransactWrite whose items carry labels, so a cancellation says which condition failed.

    PynamoDB sends condition checks, deletes, puts and updates in that order; the labels follow."""

    _ORDER = ("check", "delete", "put", "update")

    def __init__(self):
        from pynamodb.transactions import TransactWrite

        import secrets

        # One token per transaction: a retry after a throttled or lost answer is not applied twice.
        self._tx = TransactWrite(connection=_tx_connection(), client_request_token=secrets.token_hex(16))
        self._labels: dict[str, list] = {kind: [] for kind in self._ORDER}

    def check(self, label, model_cls, hash_key, range_key=None, condition=None):
        self._tx.condition_check(model_cls, hash_key, range_key, condition=condition)
        self._labels["check"].append(label)

    def delete(self, label, model, condition):
        self._tx.delete(model, condition=condition)
        self._labels["delete"].append(label)

    def put(self, label, model, condition):
        self._tx.save(model, condition=condition)
        self._labels["put"].append(label)

    def update(self, label, model, actions, condition, return_old=False):
        self._tx.update(model, actions=actions, condition=condition, return_values="ALL_OLD" if return_old else None)
        self._labels["update"].append(label)

    def add_all(self, items):
        """Items built elsewhere in storage (storage_staff: audit entries, signal counters), each
        ("put", label, model, condition) or ("update", label, model, actions, condition)."""
        for item in items or ():
            if item[0] == "put":
                self.put(item[1], item[2], item[3])
            else:
                self.update(item[1], item[2], item[3], item[4])

    def commit(self):
        """Commit; returns {} or, when cancelled, {label: raw old item or None} of failed items."""
        try:
            with _storage_call():
                self._tx._commit()
            return {}
        except TransactWriteError as exc:
            if not isinstance(exc.cause, ClientError):
                raise StorageUnavailable()
            reasons = exc.cancellation_reasons or []
            codes = {r.code for r in reasons if r is not None}
            if exc.cause_response_code != "TransactionCanceledException" or codes & _UNAVAILABLE:
                raise StorageUnavailable()
            if codes & _CONTENTION and "ConditionalCheckFailed" not in codes:
                # Still in conflict after every attempt (_retrying): busy, not a refusal.
                raise StorageUnavailable()
            labels = [label for kind in self._ORDER for label in self._labels[kind]]
            return {
                label: (reason.raw_item or {})
                for label, reason in zip(labels, reasons)
                if reason is not None and reason.code == "ConditionalCheckFailed"
            }


def _number(raw_item, name):
    value = (raw_item or {}).get(name, {}).get("N")
    return float(value) if value is not None else None


# --- public figures (GET /stats) -------------------------------------------------------------

def _figures_item(site_id, procedure_id, starts_at, slot_id):
    from zlib import crc32

    return SiteFigures(f"figures#{site_id}", f"{starts_at[:10]}#{procedure_id}#{crc32(slot_id.encode()) % FIGURE_SHARDS}")


def _count(tx, site_id, procedure_id, starts_at, slot_id, **added):
    """Public counters ADDed in the transaction of the change they count: they cannot disagree
    with it. `starts_at` is the appointment's (UTC, RFC 3339): its day is the counters' day."""
    tx.update(
        "figures",
        _figures_item(site_id, procedure_id, starts_at, slot_id),
        actions=[getattr(SiteFigures, name).add(n) for name, n in added.items()],
        # Created by the first change of its day, incremented by the others.
        condition=SiteFigures.pk.does_not_exist() | SiteFigures.pk.exists(),
    )


FIGURE_NAMES = ("published", "booked", "cancelled", "quarantined", "freed_late", "attended", "refused", "no_show", "closed")


def _freed_figure(available_from):
    """A freed slot counts as quarantined (back to search or the draw later), or freed_late (too
    late for either: left to the counter, _freed_slot_actions)."""
    return {"freed_late": 1} if available_from is None else {"quarantined": 1}


def figures_of_site(site_id, first_day, last_day):
    """{procedure_id: {figure: n}} over appointment days first_day..last_day (UTC, ISO dates):
    ONE Query (a few pages at most: FIGURE_SHARDS items per procedure and day)."""
    totals: dict = {}
    items = _query_all(SiteFigures.query, f"figures#{site_id}", SiteFigures.sk.between(first_day, f"{last_day}#~"))
    for item in items:
        procedure_id = item.sk.split("#")[1]
        figures = totals.setdefault(procedure_id, {})
        for name in FIGURE_NAMES:
            figures[name] = figures.get(name, 0) + int(getattr(item, name) or 0)
    return totals


# --- tables (local engine and tests) --------------------------------------------------------

def ensure_tables():
    """Create missing tables with their TTL (local engine, tests). In AWS, infra/ owns them."""
    import boto3

    client = boto3.client("dynamodb", region_name=config.current().region, endpoint_url=config.current().dynamodb_endpoint)
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=True)
            ttl = TTL_ATTRIBUTES.get(model)
            if ttl:
                client.update_time_to_live(
                    TableName=model.Meta.table_name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl},
                )
            if model is Booking:  # notifications read it (infra/: NEW_AND_OLD_IMAGES too)
                client.update_table(
                    TableName=model.Meta.table_name,
                    StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
                )


# --- catalog: sites and policies ------------------------------------------------------------

def create_site_if_new(site_id, name, address, timezone, procedures, also=(), name_en=None):
    """The site, only if its id is new, with its audit entry (`also`) in one transaction."""
    site = Site(sk=site_id, name=name, name_en=name_en, address=address, timezone=timezone, procedures=procedures)
    tx = _Transaction()
    tx.put("site", site, Site.sk.does_not_exist())
    tx.add_all(also)
    if tx.commit():
        raise Conflict(f"Site '{site_id}' already exists.", code="site_exists")
    return site


def list_sites():
    with _storage_call():
        return list(Site.query("site"))


def _get(model, *key):
    """One GetItem: the item, or None if there is none."""
    with _storage_call():
        try:
            return model.get(*key)
        except model.DoesNotExist:
            return None


def get_site(site_id):
    return _get(Site, "site", site_id)


def get_policy(site_id, procedure_id):
    """The stored policy item (values and updated_at), or None while the defaults apply."""
    return _get(Policy, f"policy#{site_id}", procedure_id)


def replace_policy_if_unchanged(site_id, procedure_id, values, now, read_at, also=()):
    """The policy replaced whole, with its audit entry (`also`), in one transaction, only if it is
    still the one read (updated_at == read_at; None: none was stored): the entry's old values are
    then exactly those replaced, and of two staff saving at once the second is told (409)."""
    policy = Policy(pk=f"policy#{site_id}", sk=procedure_id, values=values, updated_at=now)
    tx = _Transaction()
    tx.put("policy", policy, Policy.pk.does_not_exist() if read_at is None else Policy.updated_at == read_at)
    tx.add_all(also)
    if tx.commit():
        raise Conflict("The policy changed meanwhile; read it again and retry.", code="state_changed")


# --- slots ----------------------------------------------------------------------------------

_SLOTS_PER_TRANSACTION = 99  # and their day's counter: DynamoDB takes 100 items at most


def create_slots_if_new(slots, also=()):
    """Insert the slots whose id is new; returns how many were new (the others exist already:
    an earlier publication of the same openings).

    The slots of one procedure, day and counter shard go together, up to 99 in a transaction
    with that counter's ADD, so the public figures count exactly the slots created; a
    transaction cancelled by slots that exist is sent again without them. Groups run on a few
    threads to finish a large schedule within API Gateway's time limit; no two threads share a
    counter item, so they never conflict. The schedule's audit entry (`also`) is written first,
    so no slot exists without its entry; if a group then fails (503), publishing again creates
    the missing slots only, with an entry of its own."""
    from concurrent.futures import ThreadPoolExecutor

    def create(batch):
        while batch:
            tx = _Transaction()
            for n, slot in enumerate(batch):
                tx.put(n, slot, Slot.slot_id.does_not_exist())
            first = batch[0]  # the batch shares its counter item (create_group)
            _count(tx, first.site_id, first.procedure_id, first.starts_at, first.slot_id, published=len(batch))
            existing = {label for label in tx.commit() if label != "figures"}
            if not existing:
                return len(batch)
            batch = [slot for n, slot in enumerate(batch) if n not in existing]
        return 0

    def create_group(group):
        return sum(create(group[i:i + _SLOTS_PER_TRANSACTION]) for i in range(0, len(group), _SLOTS_PER_TRANSACTION))

    if also:
        tx = _Transaction()
        tx.add_all(also)
        if tx.commit():
            raise Conflict("Someone else changed this at the same moment; please retry.", code="state_changed")
    groups: dict = {}
    for slot in slots:
        groups.setdefault(_figures_item(slot.site_id, slot.procedure_id, slot.starts_at, slot.slot_id).sk, []).append(slot)
    with ThreadPoolExecutor(max_workers=8) as pool:
        return sum(pool.map(create_group, groups.values()))


def get_slot(slot_id):
    return _get(Slot, slot_id)


_CURSOR_NONCE = 12


def _cursor_cipher():
    """AES-GCM under a key derived from the server secret for this one purpose (cursors), so
    a cursor is opaque and cannot be forged or edited. Imported here, not at module load: most
    requests never page, and cold start is measured."""
    import hashlib
    import hmac

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from chalicelib.keys import identity_secret

    return AESGCM(hmac.new(identity_secret().encode(), b"fairslot/cursor/v1", hashlib.sha256).digest())


def _cursor_list(partition):
    """The list a cursor belongs to (index partition key and value): its associated data."""
    name, value = partition
    return f"{name}|{value}".encode()


def _encode_cursor(key, partition):
    """DynamoDB's LastEvaluatedKey, sealed: it may name an item the filter dropped (a scheduled
    or quarantined slot), so nobody but the server may read it."""
    import os

    nonce = os.urandom(_CURSOR_NONCE)
    sealed = _cursor_cipher().encrypt(nonce, json.dumps(key, separators=(",", ":")).encode(), _cursor_list(partition))
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def _decode_cursor(cursor, key_names, partition):
    """The start key a cursor carries, checked against the Query it is for: sealed by this server
    for this list (`partition`, (name, value) of the index's partition key), exactly `key_names`,
    string values. A garbled, edited or truncated cursor, or one of another list (another
    search, another partner), is a 422, never followed."""
    from cryptography.exceptions import InvalidTag

    name, value = partition
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii"))
        if len(raw) <= _CURSOR_NONCE + 16:
            raise ValueError("too short")
        plain = _cursor_cipher().decrypt(raw[:_CURSOR_NONCE], raw[_CURSOR_NONCE:], _cursor_list(partition))
        key = json.loads(plain)
        valid = (
            isinstance(key, dict)
            and set(key) == set(key_names)
            and all(isinstance(v, dict) and isinstance(v.get("S"), str) and len(v) == 1 for v in key.values())
            and key[name]["S"] == value
        )
    except (ValueError, binascii.Error, UnicodeError, InvalidTag):
        valid = False
    if not valid:
        raise InvalidField("cursor", "cursor is not one a previous page of this list returned.")
    return key


_ENDED = object()


def _resume_within(start_key, range_name, low, high=None):
    """A cursor's start key for the window queried now. DynamoDB refuses a start key outside the
    key condition (ValidationException), and a window moves under a cursor (its start is "now",
    or the caller changed from/to): before the window, every item of it comes after the cursor,
    so the Query starts afresh; after it, nothing follows (_ENDED)."""
    if start_key is None:
        return None
    at = start_key[range_name]["S"]
    if high is not None and at > high:
        return _ENDED
    return None if at < low else start_key


def _query_page(model, index, partition, range_key_condition, limit, start_key, filter_condition=None):
    """ONE Query on a secondary index: the page's items and the cursor of the next page (None at
    the end). A page may hold fewer than `limit` items, even none, while a cursor follows."""
    with _storage_call():
        page = model._get_connection().query(
            partition,
            range_key_condition=range_key_condition,
            filter_condition=filter_condition,
            index_name=index.Meta.index_name,
            exclusive_start_key=start_key,
            limit=limit,
        )
    last = page.get("LastEvaluatedKey")
    cursor = _encode_cursor(last, (index._hash_key_attribute().attr_name, partition)) if last else None
    return [model.from_raw_data(item) for item in page.get("Items", [])], cursor


def search_holdable_slots(site_id, procedure_id, from_key, to_key, limit, cursor, now, include_reserved=False):
    """One page of holdable slots: ONE Query on the sparse search index, filtered to those whose
    available_from has passed (which also hides held, scheduled and quarantined slots)."""
    search_pk = f"{site_id}#{procedure_id}"
    start_key = _decode_cursor(cursor, ("slot_id", "search_pk", "starts_at"), ("search_pk", search_pk)) if cursor else None
    start_key = _resume_within(start_key, "starts_at", from_key, to_key)
    if start_key is _ENDED:
        return [], None
    return _query_page(
        Slot, Slot.search, search_pk, Slot.starts_at.between(from_key, to_key), limit, start_key,
        filter_condition=(Slot.available_from <= now) if include_reserved else (Slot.available_from <= now) & _not_reserved(now),
    )


# --- holds ----------------------------------------------------------------------------------

def _count_under_cap(tx, label, key, window_end, cap):
    """R8: one more action on a window's counter, only while the counter is under its cap."""
    tx.update(
        label,
        Counter(key),
        actions=[Counter.n.add(1), Counter.expires_ttl.set(window_end)],
        condition=Counter.n.does_not_exist() | (Counter.n < cap),
    )


def _count_for_ip(tx, kind, ip_limit):
    """One more action of this kind from this client IP in its hourly window, under the cap."""
    window_start, window_end = ip_limit["window"]
    _count_under_cap(tx, "ip", f"{kind}#{ip_limit['ip']}#{window_start}", window_end, ip_limit["max"])


def _slot_is_holdable(now):
    """The uniform rule as a condition (domain.is_holdable), on a slot offered for holding; never
    once its appointment has started (R3)."""
    return (Slot.state.is_in(*domain.HOLDABLE_STATES) & (Slot.available_from <= now) & Slot.search_pk.exists()
            & _not_started(now))


def _slot_drawable(now):
    """What a draw's offer needs: a free slot (or one marked for the draw) that has not started."""
    return (Slot.state.is_in(*domain.HOLDABLE_STATES) & _free_for_a_draw(now) & Slot.search_pk.exists()
            & _not_started(now))


def _not_started(now):
    return Slot.starts_at > utc_key(datetime.fromtimestamp(now, timezone.utc))


def _freed_slot_actions(available_from, draw_from, search_pk, freed_by):
    """A freed slot (R3, domain.freed_slot_terms): open again from `available_from`, the draw's
    from `draw_from` if set; or, freed too late (None), out of search and left to the counter.
    `freed_by` is domain.slot_tag of who freed it, never the identity key."""
    actions = [Slot.hold_id.remove(), Slot.hold_expires_at.remove(), Slot.hold_identity.remove(), Slot.freed_by.set(freed_by),
               Slot.freed_count.add(1)]
    if available_from is None:
        return [Slot.state.set(domain.FREED_LATE), Slot.search_pk.remove(), *actions]
    if draw_from is not None:
        actions.append(Slot.draw_from.set(draw_from))
    return [Slot.state.set(domain.OPEN), Slot.available_from.set(available_from), Slot.search_pk.set(search_pk), *actions]


def _free_for_a_draw(now):
    """A slot a draw may give: free by the uniform rule, or marked for the draw (draw_from)."""
    return (Slot.available_from <= now) | (Slot.draw_from <= now)


def _not_reserved(now):
    """The partner share (issue 4): a reserved slot is public only once reserved_until passed."""
    return Slot.reserved_until.does_not_exist() | (Slot.reserved_until <= now)


def hold_slot_if_available(slot, hold, now, available_from_after, lapse_until, ip_limit, partner_quota=None, also=()):
    """R1-R4, R8 in one transaction: the slot is holdable (uniform rule), the identity has no
    active hold, no cooldown and no active booking for the procedure, the client IP is under its
    hourly limit. Raises the refusal that applies to the caller; the slot's own timing is never
    part of an answer.

    A partner's hold (partner_quota given) may take a reserved slot and counts against the
    partner's daily quota instead of the per-IP limit; `also` adds audit entries and signals."""
    identity = hold.identity_key
    window_start, window_end = ip_limit["window"] if ip_limit else (None, None)
    tx = _Transaction()
    tx.update(
        "slot",
        Slot(slot.slot_id),
        actions=[
            Slot.state.set(domain.HELD),
            Slot.hold_id.set(hold.hold_id),
            Slot.hold_expires_at.set(hold.expires_at),
            Slot.hold_identity.set(domain.slot_tag(identity, slot.slot_id)),
            Slot.available_from.set(available_from_after),
        ],
        condition=_slot_is_holdable(now) if partner_quota else _slot_is_holdable(now) & _not_reserved(now),
    )
    tx.update(
        "identity",
        IdentityState(identity, HOLD_SCOPE),
        actions=[
            IdentityState.hold_id.set(hold.hold_id),
            IdentityState.hold_expires_at.set(hold.expires_at),
            IdentityState.hold_lapse_until.set(lapse_until),
            IdentityState.purge_at.set(hold.purge_at),
        ],
        condition=(IdentityState.hold_id.does_not_exist() | (IdentityState.hold_lapse_until <= now))
        & (IdentityState.cooldown_until.does_not_exist() | (IdentityState.cooldown_until <= now)),
        return_old=True,
    )
    tx.check(
        "booking",
        IdentityState,
        identity,
        booking_scope(hold.procedure_id),
        condition=IdentityState.booking_id.does_not_exist() | (IdentityState.booking_ends_at <= now),
    )
    if ip_limit:
        _count_for_ip(tx, "holds-ip", ip_limit)
    if partner_quota:
        tx.update(
            "quota",
            Counter(f"partner-holds#{partner_quota['partner_id']}#{partner_quota['window'][0]}"),
            actions=[Counter.n.add(1), Counter.expires_ttl.set(partner_quota["window"][1])],
            condition=Counter.n.does_not_exist() | (Counter.n < partner_quota["max"]),
        )
    tx.put("hold", hold, Hold.hold_id.does_not_exist())
    tx.add_all(also)
    failed = tx.commit()
    if not failed:
        return
    if "identity" in failed:
        old = failed["identity"]
        expires = _number(old, "hold_expires_at")
        if expires is not None and expires > now:
            raise Conflict("You already hold a slot; confirm or release it first.", code="hold_already_active")
        until = max(_number(old, "hold_lapse_until") or 0, _number(old, "cooldown_until") or 0)
        raise TooManyRequests(
            "You let a hold go or cancelled recently; you can hold a slot again later.",
            code="cooldown",
            retry_after=domain.retry_after_seconds(until, now),
        )
    if "ip" in failed:
        raise TooManyRequests(
            "Too many holds from your network; please try again later.",
            code="rate_limited",
            retry_after=domain.retry_after_seconds(window_end, now),
        )
    if "quota" in failed:
        raise TooManyRequests(
            "This partner's daily quota of holds is used up.",
            code="partner_quota_exceeded",
            retry_after=domain.retry_after_seconds(partner_quota["window"][1], now),
        )
    if "booking" in failed:
        raise Conflict("You already have a booking for this procedure.", code="booking_already_active")
    raise Conflict("This slot is no longer available.", code="slot_unavailable")


def get_hold(hold_id):
    return _get(Hold, hold_id)


def release_hold_if_active(hold, now, available_from, cooldown_until, also=(), draw_from=None):
    """Free a held slot into quarantine and start the identity's cooldown, only while the hold is
    still active (an expired hold has already freed the slot at its own hidden instant)."""
    tx = _Transaction()
    tx.update(
        "slot",
        Slot(hold.slot_id),
        actions=_freed_slot_actions(available_from, draw_from, f"{hold.site_id}#{hold.procedure_id}",
                                    domain.slot_tag(hold.identity_key, hold.slot_id)),
        condition=(Slot.state == domain.HELD) & (Slot.hold_id == hold.hold_id) & (Slot.hold_expires_at > now),
    )
    tx.update(
        "hold",
        Hold(hold.hold_id),
        actions=[Hold.status.set("released")],
        condition=(Hold.status == "active") & (Hold.expires_at > now),
    )
    _count(tx, hold.site_id, hold.procedure_id, hold.starts_at, hold.slot_id, **_freed_figure(available_from))
    tx.update(
        "identity",
        IdentityState(hold.identity_key, HOLD_SCOPE),
        actions=[
            IdentityState.hold_id.remove(),
            IdentityState.hold_expires_at.remove(),
            IdentityState.hold_lapse_until.remove(),
            IdentityState.cooldown_until.set(cooldown_until),
        ],
        condition=IdentityState.hold_id == hold.hold_id,
    )
    tx.add_all(also)
    if tx.commit():
        _raise_hold_not_active(hold, now)


def _raise_hold_not_active(hold, now):
    if hold.status == "active" and hold.expires_at <= now:
        raise Expired("This hold has expired.", code="hold_expired")
    raise Conflict("This hold is no longer active.", code="hold_not_active")


# --- bookings -------------------------------------------------------------------------------

def confirm_hold_as_booking(hold, booking, now, also=()):
    """Turn an active, unexpired hold into a booking: slot, hold, booking and both identity items
    change together or not at all. Returns False if the hold was confirmed concurrently."""
    tx = _Transaction()
    tx.update(
        "slot",
        Slot(hold.slot_id),
        # The booking holds its identity (with a TTL); the slot, kept for good, keeps none.
        actions=[Slot.state.set(domain.BOOKED), Slot.booking_id.set(booking.booking_id), Slot.search_pk.remove(),
                 Slot.hold_identity.remove(), Slot.freed_by.remove()],
        condition=(Slot.state == domain.HELD) & (Slot.hold_id == hold.hold_id) & (Slot.hold_expires_at > now)
        & _not_started(now),
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
    tx.put("booking", booking, Booking.booking_id.does_not_exist())
    _count(tx, hold.site_id, hold.procedure_id, hold.starts_at, hold.slot_id, booked=1)
    tx.update(
        "identity",
        IdentityState(hold.identity_key, HOLD_SCOPE),
        actions=[IdentityState.hold_id.remove(), IdentityState.hold_expires_at.remove(), IdentityState.hold_lapse_until.remove()],
        condition=IdentityState.hold_id == hold.hold_id,
    )
    tx.update(
        "active_booking",
        IdentityState(hold.identity_key, booking_scope(hold.procedure_id)),
        actions=[
            IdentityState.booking_id.set(booking.booking_id),
            IdentityState.booking_ends_at.set(epoch_of(booking.ends_at)),
            IdentityState.purge_at.set(booking.purge_at),
        ],
        condition=IdentityState.booking_id.does_not_exist() | (IdentityState.booking_ends_at <= now),
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
    tx.add_all(also)
    failed = tx.commit()
    if not failed:
        return True
    if "hold" in failed:
        fresh = get_hold(hold.hold_id)
        if fresh is not None and fresh.status == "confirmed":
            return False
        _raise_hold_not_active(fresh or hold, now)
    if "active_booking" in failed:
        raise Conflict("You already have a booking for this procedure.", code="booking_already_active")
    if epoch_of(hold.starts_at) <= now:
        raise Conflict("This appointment has already started.", code="slot_started")
    _raise_hold_not_active(hold, now)


def get_booking(booking_id):
    return _get(Booking, booking_id)


def cancel_booking_if_booked(booking, now, available_from, cooldown_until, also=(), draw_from=None):
    """Cancel a booking: its slot goes into quarantine (R3), its identity into cooldown (R4),
    and the identity's one-booking-per-procedure lock is freed, all in one transaction."""
    failed = _cancel_transaction(booking, now, available_from, cooldown_until, also, draw_from)
    if set(failed) == {"cooldown"}:
        # A longer cooldown is already running: keep it, cancel without touching it.
        failed = _cancel_transaction(booking, now, available_from, None, also, draw_from)
    if failed:
        raise Conflict("This booking is no longer active.", code="booking_not_active")


def _cancel_transaction(booking, now, available_from, cooldown_until, also=(), draw_from=None):
    tx = _Transaction()
    tx.update(
        "booking",
        Booking(booking.booking_id),
        actions=[Booking.status.set("cancelled"), Booking.cancelled_at.set(now)]
        + ([Booking.freed_late.set(True)] if available_from is None else []),
        condition=Booking.status == "booked",
    )
    tx.update(
        "slot",
        Slot(booking.slot_id),
        actions=[*_freed_slot_actions(available_from, draw_from, f"{booking.site_id}#{booking.procedure_id}",
                                    domain.slot_tag(booking.identity_key, booking.slot_id)),
                 Slot.booking_id.remove()],
        condition=(Slot.state == domain.BOOKED) & (Slot.booking_id == booking.booking_id),
    )
    _count(tx, booking.site_id, booking.procedure_id, booking.starts_at, booking.slot_id, cancelled=1,
           **_freed_figure(available_from))
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
    tx.add_all(also)
    return tx.commit()


def bookings_of_day(site_id, day):
    with _storage_call():
        return list(Booking.day.query(f"{site_id}#{day}"))


# --- draws: requests, offers, draw records (R6) ---------------------------------------------

def request_scope(procedure_id):
    return f"request#{procedure_id}"


def _identity_may_enter(tx, identity, procedure_id, now):
    """Conditions shared by filing a request: no cooldown (R4) and no active booking (R2)."""
    tx.check(
        "cooldown",
        IdentityState,
        identity,
        HOLD_SCOPE,
        condition=(IdentityState.hold_id.does_not_exist() | (IdentityState.hold_expires_at > now)
                   | (IdentityState.hold_lapse_until <= now))
        & (IdentityState.cooldown_until.does_not_exist() | (IdentityState.cooldown_until <= now)),
    )
    tx.check(
        "booking",
        IdentityState,
        identity,
        booking_scope(procedure_id),
        condition=IdentityState.booking_id.does_not_exist() | (IdentityState.booking_ends_at <= now),
    )


def file_request_if_allowed(request, request_ends_at, now, ip_limit=None, also=()):
    """R6 + R2 + R4 + R8: one live request per identity and procedure, none while in cooldown or
    holding a booking for the procedure, and no more per client IP and hour than the policy
    allows; the request enters the pool of the next draw. `also` adds signals."""
    tx = _Transaction()
    tx.put("request", request, Request.request_id.does_not_exist())
    if ip_limit:
        _count_for_ip(tx, "requests-ip", ip_limit)
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
    tx.add_all(also)
    failed = tx.commit()
    if not failed:
        return
    if "cooldown" in failed:
        identity = _get(IdentityState, request.identity_key, HOLD_SCOPE)
        until = max(identity.hold_lapse_until or 0, identity.cooldown_until or 0) if identity else now
        raise TooManyRequests("You let a hold go or cancelled recently; you can file a request later.",
                              code="cooldown", retry_after=domain.retry_after_seconds(until, now))
    if "ip" in failed:
        raise TooManyRequests("Too many requests from your network; please try again later.", code="rate_limited",
                              retry_after=domain.retry_after_seconds(ip_limit["window"][1], now))
    if "booking" in failed:
        raise Conflict("You already have a booking for this procedure.", code="booking_already_active")
    raise Conflict("You already have a request for this procedure.", code="request_already_active")


def get_request(request_id):
    return _get(Request, request_id)


def withdraw_request_if_live(request, now, offer=None, available_from=None, cooldown_until=None, draw_from=None):
    """Withdraw a waiting request; an offered one also gives its offer back (the slot to the next
    draw, the identity into cooldown), in the same transaction."""
    tx = _Transaction()
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
        tx.update(
            "slot",
            Slot(offer.slot_id),
            actions=_freed_slot_actions(available_from, draw_from, f"{offer.site_id}#{offer.procedure_id}",
                                    domain.slot_tag(offer.identity_key, offer.slot_id)),
            condition=(Slot.state == domain.HELD) & (Slot.hold_id == offer.hold_id) & (Slot.hold_expires_at > now),
        )
        tx.update("hold", Hold(offer.hold_id), actions=[Hold.status.set("released")],
                  condition=(Hold.status == "active") & (Hold.expires_at > now))
        _count(tx, offer.site_id, offer.procedure_id, offer.starts_at, offer.slot_id, **_freed_figure(available_from))
        tx.update(
            "identity",
            IdentityState(offer.identity_key, HOLD_SCOPE),
            actions=[IdentityState.hold_id.remove(), IdentityState.hold_expires_at.remove(),
                     IdentityState.hold_lapse_until.remove(), IdentityState.cooldown_until.set(cooldown_until)],
            condition=IdentityState.hold_id == offer.hold_id,
        )
    if tx.commit():
        raise Conflict("This request can no longer be withdrawn.", code="request_not_live")


def _query_all(query, *args, **kwargs):
    """Every item of a Query, page after page (draw and statistics jobs, never a request's search)."""
    with _storage_call():
        return list(query(*args, **kwargs))


def waiting_requests(site_id, procedure_id):
    return _query_all(Request.pool.query, f"{site_id}#{procedure_id}")


def free_slots(site_id, procedure_id, from_key, to_key, now):
    """The slots a draw may give (free, or marked for the draw), from the search index."""
    return _query_all(Slot.search.query, f"{site_id}#{procedure_id}", Slot.starts_at.between(from_key, to_key),
                      filter_condition=_free_for_a_draw(now))


def holdable_slots_between(site_id, procedure_id, from_key, to_key, now):
    """Every slot of the range the public could hold now (the uniform rule, not reserved, not
    started): Query pages of the search index (filing a standby request, never a search)."""
    return _query_all(Slot.search.query, f"{site_id}#{procedure_id}", Slot.starts_at.between(from_key, to_key),
                      filter_condition=(Slot.available_from <= now) & _not_reserved(now) & Slot.state.is_in(*domain.HOLDABLE_STATES))


def release_draw_leftover_if_unchanged(slot, now, available_from):
    """A free slot that a draw did not give away goes to search at a random instant (or, None, to
    the counter), only if nobody took or moved it since the draw read it. Returns True if moved."""
    from pynamodb.exceptions import UpdateError

    actions = ([Slot.state.set(domain.FREED_LATE), Slot.search_pk.remove()] if available_from is None
               else [Slot.available_from.set(available_from)])
    condition = (Slot.state.is_in(*domain.HOLDABLE_STATES) & (Slot.available_from == slot.available_from)
                 & _free_for_a_draw(now) & Slot.search_pk.exists())
    if available_from is None:  # counted in the public figures, so with its counter
        tx = _Transaction()
        tx.update("slot", Slot(slot.slot_id), actions=[*actions, Slot.draw_from.remove()], condition=condition)
        _count(tx, slot.site_id, slot.procedure_id, slot.starts_at, slot.slot_id, freed_late=1)
        return not tx.commit()
    try:
        with _storage_call():
            Slot(slot.slot_id).update(actions=[*actions, Slot.draw_from.remove()], condition=condition)
        return True
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise


OFFER_MADE, OFFER_ALREADY_MADE, OFFER_NOT_POSSIBLE = "made", "already_made", "not_possible"


def make_offer_if_still_possible(request, slot, hold, now, lapse_until, available_from_after=None):
    """A draw's offer: the slot is held for the request's identity with the offer's expiry, in one
    transaction with the request (still waiting) and the identity (no hold, no cooldown); the slot
    comes back at `available_from_after` (default: the offer's expiry, for the next draw) if the
    offer lapses. OFFER_MADE; OFFER_ALREADY_MADE when this hold exists (its id is derived from the
    draw and the request, so a resumed draw finds its own offers); OFFER_NOT_POSSIBLE when
    something changed since the draw read them (the offer is not made)."""
    tx = _Transaction()
    back = hold.expires_at if available_from_after is None else available_from_after
    tx.update(
        "slot",
        Slot(slot.slot_id),
        actions=[Slot.state.set(domain.HELD), Slot.hold_id.set(hold.hold_id), Slot.hold_expires_at.set(hold.expires_at),
                 Slot.hold_identity.set(domain.slot_tag(hold.identity_key, slot.slot_id)), Slot.available_from.set(back), Slot.draw_from.remove()],
        condition=_slot_drawable(now) if request.partner_id else (_slot_drawable(now) & _not_reserved(now)),
    )
    tx.put("hold", hold, Hold.hold_id.does_not_exist())
    tx.update(
        "identity",
        IdentityState(hold.identity_key, HOLD_SCOPE),
        actions=[IdentityState.hold_id.set(hold.hold_id), IdentityState.hold_expires_at.set(hold.expires_at),
                 IdentityState.hold_lapse_until.set(lapse_until), IdentityState.purge_at.set(hold.purge_at)],
        condition=(IdentityState.hold_id.does_not_exist() | (IdentityState.hold_lapse_until <= now))
        & (IdentityState.cooldown_until.does_not_exist() | (IdentityState.cooldown_until <= now)),
    )
    tx.update(
        "request",
        Request(request.request_id),
        # The pool index's "notify#" partition lists offers whose e-mail is not sent yet: written
        # here, in the offer's own transaction, so an offer is never made without its e-mail pending.
        actions=[Request.status.set("offered"), Request.pool_pk.set(offer_notify_pool(request.site_id, request.procedure_id)),
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
    failed = tx.commit()
    if not failed:
        return OFFER_MADE
    # The hold id is the draw's for this request: finding it means an earlier run made the offer.
    return OFFER_ALREADY_MADE if "hold" in failed else OFFER_NOT_POSSIBLE


def offer_notify_pool(site_id, procedure_id):
    return f"notify#{site_id}#{procedure_id}"


def offers_to_notify(site_id, procedure_id):
    """Requests whose offer e-mail is still to send (sparse: the pool index's notify partition)."""
    return _query_all(Request.pool.query, offer_notify_pool(site_id, procedure_id))


def offer_notified(request):
    """Out of the notify partition, once its e-mail went (or it is no longer an offer)."""
    try:
        with _storage_call():
            request.update(actions=[Request.pool_pk.remove()],
                           condition=Request.pool_pk == offer_notify_pool(request.site_id, request.procedure_id))
    except PynamoDBException as exc:
        if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise
        return False
    return True


# --- "find my booking" (issue 13) -----------------------------------------------------------

def count_lookup(ip_limit, identity_limit):
    """One more lookup from this client IP (hourly) and for this identity (daily), both under
    their caps, in one transaction. Raises 429 with the window's end as Retry-After."""
    tx = _Transaction()
    _count_for_ip(tx, "lookup-ip", ip_limit)
    start, end = identity_limit["window"]
    _count_under_cap(tx, "identity", f"lookup-identity#{identity_limit['identity']}#{start}", end, identity_limit["max"])
    failed = tx.commit()
    if failed:
        window_end = ip_limit["window"][1] if "ip" in failed else end
        raise TooManyRequests("Too many look-ups; please try again later.", code="rate_limited",
                              retry_after=domain.retry_after_seconds(window_end, identity_limit["now"]))


def live_bookings_of(identity, now):
    """The identity's live bookings (one per procedure: its "booking#" scopes not yet over)."""
    scopes = _query_all(IdentityState.query, identity, IdentityState.scope.startswith("booking#"),
                        filter_condition=IdentityState.booking_ends_at > now)
    found = (get_booking(s.booking_id) for s in scopes if s.booking_id)
    return [b for b in found if b is not None and b.status == "booked"]


def mark_link_requested(booking, now):
    """Ask the bookings stream to send the booking's link again (notify.LINK)."""
    try:
        with _storage_call():
            booking.update(actions=[Booking.link_requested_at.set(now)], condition=Booking.status == "booked")
    except PynamoDBException as exc:
        if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise


def draws_of(site_id, procedure_id, limit=20):
    """The latest draws first (the first one may be committed and not yet run)."""
    with _storage_call():
        return list(Draw.query(f"{site_id}#{procedure_id}", scan_index_forward=False, limit=limit))


def draws_page(site_id, procedure_id, limit, cursor):
    """One page of a procedure's draws, latest first (ONE Query): draw items only, never their
    record, so a page's size is bounded by `limit`. Returns (draws, next cursor or None)."""
    draw_pk = f"{site_id}#{procedure_id}"
    start_key = _decode_cursor(cursor, ("draw_pk", "draw_id"), ("draw_pk", draw_pk)) if cursor else None
    with _storage_call():
        page = Draw._get_connection().query(draw_pk, scan_index_forward=False, limit=limit, exclusive_start_key=start_key)
    last = page.get("LastEvaluatedKey")
    return [Draw.from_raw_data(item) for item in page.get("Items", [])], (_encode_cursor(last, ("draw_pk", draw_pk)) if last else None)


def get_draw(site_id, procedure_id, draw_id):
    return _get(Draw, f"{site_id}#{procedure_id}", draw_id)


def commit_draw_if_none_pending(draw):
    with _storage_call():
        try:
            draw.save(condition=Draw.draw_id.does_not_exist())
        except PynamoDBException as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict("This draw already exists.", code="draw_exists")
            raise


def _update_draw_if(draw, actions, condition):
    """One conditional update of a draw item (the local copy takes the stored values); False
    when the condition failed."""
    with _storage_call():
        try:
            draw.update(actions=actions, condition=condition)
            return True
        except PynamoDBException as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise


def claim_committed_draw(draw, now, runner, lease_until):
    """Only one runner gets a committed draw (scheduler and staff may race); it holds it until
    lease_until unless it renews."""
    return _update_draw_if(
        draw,
        [Draw.status.set("running"), Draw.run_at.set(now), Draw.runner.set(runner), Draw.lease_until.set(lease_until),
         Draw.attempt.set(1)],
        Draw.status == "committed",
    )


def take_over_stale_draw(draw, now, runner, lease_until):
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


def _progress(progress):
    done, offered, skipped = progress
    return [Draw.offers_done.set(done), Draw.offered_count.set(offered), Draw.skipped_count.set(skipped)]


def renew_draw_lease(draw, runner, lease_until, progress=None):
    """The runner's heartbeat, with its progress (offers done, offered, skipped) if it makes
    offers; False if another run took the draw over meanwhile."""
    return _update_draw_if(draw, [Draw.lease_until.set(lease_until)] + (_progress(progress) if progress else []),
                           (Draw.runner == runner) & Draw.status.is_in("running", "allocating"))


def release_draw(draw, runner, now, progress):
    """The runner stops at its time budget: its progress saved, the draw is free for the next run
    at once (no runner, lease over)."""
    return _update_draw_if(draw, [Draw.runner.remove(), Draw.lease_until.set(now)] + _progress(progress),
                           (Draw.runner == runner) & (Draw.status == "allocating"))


# A chunk's items as JSON stay under this many bytes: DynamoDB's item limit is 400 KB, keys and
# attribute names included. One entrant or slot is a few hundred bytes.
RECORD_CHUNK_BYTES = 300_000
RECORD_PARTS = ("entrants", "slots", "allocation")


def draw_record_pk(draw, attempt):
    """Each attempt writes its own chunks: a draw re-run before its record was complete (same
    seed, entrants and slots read again) never mixes with the partial record of the crashed run."""
    return f"record#{draw.draw_pk}#{draw.draw_id}#{int(attempt)}"


def _chunks(items, budget):
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


def _put_record_chunk(chunk):
    """Create a chunk; the same chunk already there (a put retried after it landed) is fine."""
    with _storage_call():
        try:
            chunk.save(condition=DrawRecordChunk.draw_id.does_not_exist() | (DrawRecordChunk.digest == chunk.digest))
        except PynamoDBException as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict("Another run wrote this draw's record.", code="draw_running")
            raise


def record_draw_chunks(draw, attempt, parts, after_each=None):
    """Write a draw's record ahead of its offers: each part ({"entrants": [...], ...}) split into
    chunks of at most RECORD_CHUNK_BYTES, each one conditional put. Returns {part: chunks}.
    `after_each` runs after every chunk (the runner renews its lease)."""
    import hashlib

    counts = {}
    for part in RECORD_PARTS:
        counts[part] = 0
        for index, items in enumerate(_chunks(parts[part], RECORD_CHUNK_BYTES)):
            digest = hashlib.sha256(json.dumps(items).encode()).hexdigest()
            _put_record_chunk(DrawRecordChunk(draw_record_pk(draw, attempt), f"{part}#{index:05d}", items=items, digest=digest))
            counts[part] = index + 1
            if after_each:
                after_each()
    return counts


def mark_draw_recorded(draw, runner, parts, counts, now, lease_until):
    """running -> allocating, by its runner only: the record is complete (attempt and chunk
    counts say where), so the seed is revealed from now on, before any offer exists."""
    return _update_draw_if(
        draw,
        [Draw.status.set("allocating"), Draw.record_attempt.set(draw.attempt), Draw.record_parts.set(parts),
         Draw.recorded_at.set(now), Draw.lease_until.set(lease_until), Draw.entrant_count.set(counts["entrants"]),
         Draw.slot_count.set(counts["slots"]), Draw.allocated_count.set(counts["allocation"])],
        (Draw.status == "running") & (Draw.runner == runner),
    )


def mark_draw_run(draw, runner, offered, skipped, now):
    """allocating -> run, by its runner only, with the outcome of the offers."""
    return _update_draw_if(
        draw,
        [Draw.status.set("run"), Draw.offered_count.set(offered), Draw.skipped_count.set(skipped), Draw.done_at.set(now)],
        (Draw.status == "allocating") & (Draw.runner == runner),
    )


def read_draw_record(draw):
    """The whole recorded record of an allocating or run draw, {part: [items]} (a resumed run's
    input): strongly consistent, and checked complete against the chunk counts."""
    parts: dict[str, list] = {part: [] for part in RECORD_PARTS}
    seen = dict.fromkeys(RECORD_PARTS, 0)
    chunks = _query_all(DrawRecordChunk.query, draw_record_pk(draw, draw.record_attempt), consistent_read=True)
    for chunk in chunks:
        part = chunk.draw_id.split("#")[0]
        parts[part].extend(chunk.items)
        seen[part] += 1
    if seen != draw.record_parts:
        raise StorageUnavailable()
    return parts


def draw_record_chunk(draw, part, cursor):
    """One page of a recorded draw's part: ONE GetItem of one chunk (so a page is at most
    RECORD_CHUNK_BYTES of items). The cursor is the page's chunk key; returns (items, next
    cursor or None)."""
    record_pk = draw_record_pk(draw, draw.record_attempt)
    index = 0
    if cursor:
        key = _decode_cursor(cursor, ("draw_pk", "draw_id"), ("draw_pk", record_pk))
        name, _, number = key["draw_id"]["S"].partition("#")
        if name != part or not number.isdigit() or int(number) + 1 >= draw.record_parts[part]:
            raise InvalidField("cursor", "cursor is not one a previous page of this list returned.")
        index = int(number) + 1
    sort_key = f"{part}#{index:05d}"
    chunk = _get(DrawRecordChunk, record_pk, sort_key)
    if chunk is None:
        raise StorageUnavailable()  # counted at recording: only a lagging replica misses one
    more = index + 1 < draw.record_parts[part]
    return chunk.items, (_encode_cursor({"draw_pk": {"S": record_pk}, "draw_id": {"S": sort_key}}, ("draw_pk", record_pk))
                         if more else None)


def requests_by_id(request_ids):
    """Requests by id (BatchGetItem), for a resumed draw's offers."""
    with _storage_call():
        return {r.request_id: r for r in Request.batch_get(list(request_ids), consistent_read=True)}


def slots_by_id(slot_ids):
    with _storage_call():
        return {s.slot_id: s for s in Slot.batch_get(list(slot_ids), consistent_read=True)}


# --- every public function above, and storage_staff's, runs inside _storage_call ------------

# Not DynamoDB calls: table setup (local engine, tests) and pure key helpers.
UNGUARDED = {"ensure_tables", "booking_scope", "request_scope", "guard_public_functions"}


def _guarded(function):
    @wraps(function)
    def guarded(*args, **kwargs):
        with _storage_call():
            return function(*args, **kwargs)

    guarded.storage_guarded = True  # type: ignore[attr-defined]  # read by the wrapper test
    return guarded


def guard_public_functions(namespace):
    """Wrap each public function of a storage module (namespace: its globals(), at its end) in
    _storage_call, so that no read or write can be added that escapes the 503 mapping; the
    retries are in the shared connection (_retrying). tests/api/test_dynamodb_faults.py checks it."""
    for name, value in list(namespace.items()):
        if (not name.startswith("_") and name not in UNGUARDED and callable(value)
                and getattr(value, "__module__", None) == namespace["__name__"] and not isinstance(value, type)):
            namespace[name] = _guarded(value)


guard_public_functions(globals())
