"""PynamoDB models: the shape of every DynamoDB table fairslot uses (storage's own: only chalicelib/storage and tests import them).

Times that conditions compare (available_from, expiries, cooldowns) are epoch seconds (numbers);
appointment times are RFC 3339 UTC strings so that they sort as range keys.
"""
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.platform import config


class _Meta:
    """Shared table settings; each model's Meta adds its table name."""

    @classmethod
    def for_table(cls, suffix: str) -> Any:  # a Meta class built at import, read by PynamoDB
        attrs = {
            "table_name": f"{config.current().table_prefix}-{suffix}",
            "region": config.current().region,
            "billing_mode": "PAY_PER_REQUEST",
            # Fail fast and let the client retry: API Gateway's 29 s budget is not ours to spend.
            "connect_timeout_seconds": 2,
            "read_timeout_seconds": config.current().dynamodb_read_timeout_seconds,
            "max_retry_attempts": config.current().dynamodb_max_retries,
        }
        if config.current().dynamodb_endpoint:
            attrs["host"] = config.current().dynamodb_endpoint
        return type("Meta", (), attrs)


class SlotSearchIndex(GlobalSecondaryIndex):
    """Sparse index of the slots a search may show: only open or held slots carry search_pk."""

    class Meta:
        index_name = "search"
        projection = AllProjection()

    search_pk = UnicodeAttribute(hash_key=True)  # "<site_id>#<procedure_id>"
    starts_at = UnicodeAttribute(range_key=True)


class Slot(Model):
    Meta = _Meta.for_table("slots")

    slot_id = UnicodeAttribute(hash_key=True)
    site_id = UnicodeAttribute()
    procedure_id = UnicodeAttribute()
    starts_at = UnicodeAttribute()
    ends_at = UnicodeAttribute()
    state = UnicodeAttribute()  # open | held | booked | attended | no_show | closed
    # The uniform rule: holdable iff state in (open, held) and available_from <= now.
    available_from = NumberAttribute()
    search_pk = UnicodeAttribute(null=True)
    hold_id = UnicodeAttribute(null=True)
    hold_expires_at = NumberAttribute(null=True)
    # Who held it last, and who freed it, as domain.slot_tag (never the identity key): a draw
    # never gives a slot back to either (R6). Removed once booked, closed or checked in.
    hold_identity = UnicodeAttribute(null=True)
    hold_partner = UnicodeAttribute(null=True)  # the partner whose hold or offer it is
    freed_by = UnicodeAttribute(null=True)
    booking_id = UnicodeAttribute(null=True)
    freed_count = NumberAttribute(default=0)
    created_at = NumberAttribute()
    # auto: freed while a standby request covered it, the slot is the draw's from this instant
    # (available_from stays ahead: only a draw gives it, or sends it to search at a random instant).
    draw_from = NumberAttribute(null=True)
    # Partner share (SPEC R11): a public hold or search needs reserved_until absent or passed.
    reserved_until = NumberAttribute(null=True)

    search = SlotSearchIndex()


class Applicant(MapAttribute):
    """What a person typed, minus the document number (only its HMAC is kept)."""

    document_type = UnicodeAttribute()
    family_name = UnicodeAttribute()
    given_names = UnicodeAttribute()
    email = UnicodeAttribute()
    phone = UnicodeAttribute(null=True)


class Hold(Model):
    Meta = _Meta.for_table("holds")

    hold_id = UnicodeAttribute(hash_key=True)
    token_hash = UnicodeAttribute()
    slot_id = UnicodeAttribute()
    site_id = UnicodeAttribute()
    procedure_id = UnicodeAttribute()
    starts_at = UnicodeAttribute()
    ends_at = UnicodeAttribute()
    identity_key = UnicodeAttribute()
    applicant = Applicant()
    expires_at = NumberAttribute()
    status = UnicodeAttribute()  # active | released | confirmed
    booking_id = UnicodeAttribute(null=True)
    reference = UnicodeAttribute(null=True)
    request_id = UnicodeAttribute(null=True)  # set when the hold is a draw's offer
    client_ip = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    purge_at = NumberAttribute()  # TTL: personal data goes some time after the appointment
    partner_id = UnicodeAttribute(null=True)  # the partner that holds on a beneficiary's behalf
    # A draw's offer keeps what its request declared, for the counter to check (R7 false urgency).
    tier = NumberAttribute(null=True)
    permit_expires_on = UnicodeAttribute(null=True)
    draw_day = UnicodeAttribute(null=True)


class BookingDayIndex(GlobalSecondaryIndex):
    """Staff day list: every booking of one site on one local date."""

    class Meta:
        index_name = "day"
        projection = AllProjection()

    day_pk = UnicodeAttribute(hash_key=True)  # "<site_id>#<YYYY-MM-DD>"
    starts_at = UnicodeAttribute(range_key=True)


class BookingPartnerIndex(GlobalSecondaryIndex):
    """A partner's own bookings (sparse: only partner bookings carry partner_id)."""

    class Meta:
        index_name = "partner"
        projection = AllProjection()

    partner_id = UnicodeAttribute(hash_key=True)
    starts_at = UnicodeAttribute(range_key=True)


class Booking(Model):
    Meta = _Meta.for_table("bookings")

    booking_id = UnicodeAttribute(hash_key=True)
    token_hash = UnicodeAttribute()
    reference = UnicodeAttribute()
    hold_id = UnicodeAttribute()
    slot_id = UnicodeAttribute()
    site_id = UnicodeAttribute()
    procedure_id = UnicodeAttribute()
    starts_at = UnicodeAttribute()
    ends_at = UnicodeAttribute()
    day_pk = UnicodeAttribute()
    identity_key = UnicodeAttribute()
    applicant = Applicant()
    status = UnicodeAttribute()  # booked | cancelled | attended | no_show | closed
    partner_id = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    cancelled_at = NumberAttribute(null=True)
    freed_late = BooleanAttribute(null=True)  # cancelled too close to its start: the slot stays with the counter
    purge_at = NumberAttribute()
    checked_in_at = NumberAttribute(null=True)
    reminded_at = NumberAttribute(null=True)  # set once by the reminder run; the stream sends it
    # Won in a draw: the request's tier and declared permit expiry, and the draw's day (R7).
    tier = NumberAttribute(null=True)
    permit_expires_on = UnicodeAttribute(null=True)
    draw_day = UnicodeAttribute(null=True)
    link_requested_at = NumberAttribute(null=True)  # "find my booking": the stream sends the link again

    day = BookingDayIndex()
    partner = BookingPartnerIndex()


class RequestPoolIndex(GlobalSecondaryIndex):
    """Sparse: the waiting requests of one site and procedure, the next draw's entrants."""

    class Meta:
        index_name = "pool"
        projection = AllProjection()

    # "<site_id>#<procedure_id>" while waiting; "notify#<site_id>#<procedure_id>" while an offer's
    # e-mail is still to send (draws.send_pending_offers)
    pool_pk = UnicodeAttribute(hash_key=True)
    created_at = NumberAttribute(range_key=True)


class Request(Model):
    """R6: an identity-bound request to be allocated a slot by draw."""

    Meta = _Meta.for_table("requests")

    request_id = UnicodeAttribute(hash_key=True)
    token_hash = UnicodeAttribute()
    site_id = UnicodeAttribute()
    procedure_id = UnicodeAttribute()
    identity_key = UnicodeAttribute()
    applicant = Applicant()
    first_day = UnicodeAttribute()  # wanted range, local ISO dates
    last_day = UnicodeAttribute()
    permit_expires_on = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # waiting | offered | booked | withdrawn (expired is derived)
    pool_pk = UnicodeAttribute(null=True)
    hold_id = UnicodeAttribute(null=True)
    offer_expires_at = NumberAttribute(null=True)
    booking_id = UnicodeAttribute(null=True)
    partner_id = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    purge_at = NumberAttribute()

    pool = RequestPoolIndex()


class Draw(Model):
    """A draw of one site and procedure: committed (seed hash published), running (claimed by a
    runner under a lease), allocating (entrants, slots and allocation recorded in DrawRecordChunk
    items, seed revealed, offers being made) then run (outcome counted). Anyone can replay it
    with domain.allocate from the record."""

    Meta = _Meta.for_table("draws")

    draw_pk = UnicodeAttribute(hash_key=True)  # "<site_id>#<procedure_id>"
    draw_id = UnicodeAttribute(range_key=True)  # sortable: "<committed epoch ms, 15 digits>-<random>"
    status = UnicodeAttribute()  # committed | running | allocating | run
    seed_hash = UnicodeAttribute()
    # Revealed when the allocation is recorded; until then only sealed (platform/draw_seal.py),
    # so nobody who reads the table learns it. Older items kept it in clear from the commitment.
    seed = UnicodeAttribute(null=True)
    seed_sealed = UnicodeAttribute(null=True)
    entrants_hash = UnicodeAttribute(null=True)  # lottery.entrants_digest, published with the record
    run_by = UnicodeAttribute(null=True)  # "staff:<subject>" for a staff-run draw
    early_reason = UnicodeAttribute(null=True)  # an admin's reason for running it before the interval
    committed_at = NumberAttribute()
    run_at = NumberAttribute(null=True)
    # The run in charge (random per attempt) and until when; a later run takes over only past it.
    # No runner but a lease_until: released by a run that stopped at its time budget.
    runner = UnicodeAttribute(null=True)
    lease_until = NumberAttribute(null=True)
    attempt = NumberAttribute(null=True)  # 1 at the claim, +1 at each take-over
    resumed = NumberAttribute(null=True)
    # Write-ahead record: the attempt whose chunks hold it and how many chunks each part has.
    record_attempt = NumberAttribute(null=True)
    record_parts = JSONAttribute(null=True)  # {"entrants": n, "slots": n, "allocation": n}
    recorded_at = NumberAttribute(null=True)
    entrant_count = NumberAttribute(null=True)
    slot_count = NumberAttribute(null=True)
    allocated_count = NumberAttribute(null=True)
    offers_done = NumberAttribute(null=True)  # allocated pairs tried, in order (saved with the lease)
    offered_count = NumberAttribute(null=True)
    skipped_count = NumberAttribute(null=True)  # allocated pairs whose offer could not be made
    done_at = NumberAttribute(null=True)


class DrawRecordChunk(Model):
    """One bounded piece of a draw's record (entrants, slots or allocation), in the draws table
    but in a partition of its own, so listing draws never reads a record."""

    Meta = _Meta.for_table("draws")

    draw_pk = UnicodeAttribute(hash_key=True)  # "record#<site_id>#<procedure_id>#<draw_id>#<attempt>"
    draw_id = UnicodeAttribute(range_key=True)  # the table's range key holds "<part>#<index, 5 digits>"
    items = JSONAttribute()
    digest = UnicodeAttribute()  # SHA-256 of the items' JSON: a repeated put of the same chunk is no conflict


class IdentityState(Model):
    """Per identity key: its one active hold and cooldown (scope "hold"), and its one active
    booking per procedure (scope "booking#<procedure_id>")."""

    Meta = _Meta.for_table("identities")

    identity_key = UnicodeAttribute(hash_key=True)
    scope = UnicodeAttribute(range_key=True)
    hold_id = UnicodeAttribute(null=True)
    hold_expires_at = NumberAttribute(null=True)
    # A hold left to expire starts the cooldown at its expiry: precomputed when the hold is taken.
    hold_lapse_until = NumberAttribute(null=True)
    cooldown_until = NumberAttribute(null=True)
    booking_id = UnicodeAttribute(null=True)
    booking_ends_at = NumberAttribute(null=True)
    # scope "request#<procedure_id>": the identity's one live request for the procedure
    request_id = UnicodeAttribute(null=True)
    request_ends_at = NumberAttribute(null=True)
    purge_at = NumberAttribute(null=True)


class Verification(Model):
    """A one-time code sent (R10), in the identities table: keyed "verification#<id>" /
    "verification". Only the code's keyed digest is kept, and the lock key it would prove."""

    Meta = _Meta.for_table("identities")

    identity_key = UnicodeAttribute(hash_key=True)  # "verification#<verification_id>"
    scope = UnicodeAttribute(range_key=True, default="verification")
    site_id = UnicodeAttribute()
    procedure_id = UnicodeAttribute()
    lock_key = UnicodeAttribute()
    code_digest = UnicodeAttribute()
    expires_at = NumberAttribute()
    destination = UnicodeAttribute()  # masked
    tries = NumberAttribute(default=0)
    used = BooleanAttribute(null=True)
    purge_at = NumberAttribute()


class IdentityProof(Model):
    """An identity token's stored side (R10), in the identities table: keyed "proof#<token hash>" /
    "proof"; holds, requests and look-ups check it in their own transaction."""

    Meta = _Meta.for_table("identities")

    identity_key = UnicodeAttribute(hash_key=True)  # "proof#<sha256 of the token>"
    scope = UnicodeAttribute(range_key=True, default="proof")
    lock_key = UnicodeAttribute()
    procedure_id = UnicodeAttribute()
    site_id = UnicodeAttribute()
    expires_at = NumberAttribute()
    purge_at = NumberAttribute()


class Site(Model):
    """A prefecture or sous-prefecture; all sites share one partition so listing them is a Query."""

    Meta = _Meta.for_table("catalog")

    pk = UnicodeAttribute(hash_key=True, default="site")
    sk = UnicodeAttribute(range_key=True)  # site_id
    name = UnicodeAttribute()
    name_en = UnicodeAttribute(null=True)  # the name in English, where the site gives one
    address = UnicodeAttribute()
    timezone = UnicodeAttribute()
    procedures = JSONAttribute()  # [{"procedure_id", "name", "name_en"?}]


class Policy(Model):
    """The §4 policy of one site and procedure (missing fields fall back to configuration)."""

    Meta = _Meta.for_table("catalog")

    pk = UnicodeAttribute(hash_key=True)  # "policy#<site_id>"
    sk = UnicodeAttribute(range_key=True)  # procedure_id
    values = JSONAttribute()
    updated_at = NumberAttribute()


class SiteFigures(Model):
    """Public figures of one site, procedure and UTC day of appointments, in one of
    FIGURE_SHARDS items (by slot id) so that simultaneous bookings of one day seldom meet on one
    item. Each counter is ADDed in the transaction of the change it counts (storage/figures.py), so
    GET /stats reads them with one Query whatever the number of slots."""

    Meta = _Meta.for_table("catalog")

    pk = UnicodeAttribute(hash_key=True)  # "figures#<site_id>"
    sk = UnicodeAttribute(range_key=True)  # "<YYYY-MM-DD>#<procedure_id>#<shard>"
    published = NumberAttribute(null=True)  # slots created
    booked = NumberAttribute(null=True)  # bookings made
    cancelled = NumberAttribute(null=True)  # bookings cancelled
    quarantined = NumberAttribute(null=True)  # slots freed: hold released, booking cancelled, offer given back
    freed_late = NumberAttribute(null=True)  # freed too close to the start: left to the counter
    attended = NumberAttribute(null=True)
    refused = NumberAttribute(null=True)  # check-in mismatch
    no_show = NumberAttribute(null=True)
    closed = NumberAttribute(null=True)


FIGURE_SHARDS = 4


class Counter(Model):
    """Fixed-window counters for rate limits; the window's end is also the item's TTL."""

    Meta = _Meta.for_table("counters")

    counter_key = UnicodeAttribute(hash_key=True)
    n = NumberAttribute(default=0)
    expires_ttl = NumberAttribute()


ALL_MODELS: tuple[type[Model], ...] = (Slot, Hold, Booking, IdentityState, Site, Counter, Request, Draw, DrawRecordChunk)
TTL_ATTRIBUTES = {
    Hold: "purge_at",
    Booking: "purge_at",
    IdentityState: "purge_at",
    Request: "purge_at",
    Counter: "expires_ttl",
}


# --- partners, audit trail and signals (SPEC §2, R9) -------------------------------------------------

class Partner(Model):
    """A partner association; all partners share one partition so listing them is a Query."""

    Meta = _Meta.for_table("catalog")

    pk = UnicodeAttribute(hash_key=True, default="partner")
    sk = UnicodeAttribute(range_key=True)  # partner_id
    name = UnicodeAttribute()
    daily_quota = NumberAttribute()
    key_hash = UnicodeAttribute()
    created_at = NumberAttribute()
    revoked_at = NumberAttribute(null=True)
    # Its key in API Gateway's partner usage plan (chalicelib/platform/gateway_keys.py), when registered.
    gateway_key_id = UnicodeAttribute(null=True)
    sites = UnicodeSetAttribute(null=True)  # R11: the sites its key may act on; absent: none


class PartnerKey(Model):
    """A partner found by the SHA-256 of its API key (the key itself is never stored); deleted
    when the partner is revoked."""

    Meta = _Meta.for_table("catalog")

    pk = UnicodeAttribute(hash_key=True)  # "partner-key#<sha256 of the key>"
    sk = UnicodeAttribute(range_key=True, default="key")
    partner_id = UnicodeAttribute()
    name = UnicodeAttribute()
    daily_quota = NumberAttribute()
    sites = UnicodeSetAttribute(null=True)  # as the partner's: the authorizer reads only this item


class AuditEntry(Model):
    """One state change of a slot, hold, booking, partner or of the configuration: appended, never updated."""

    Meta = _Meta.for_table("audit")

    # slot_id, hold_id, booking_id, partner_id, "site#<site_id>" or "policy#<site_id>#<procedure_id>"
    entity_id = UnicodeAttribute(hash_key=True)
    at = UnicodeAttribute(range_key=True)  # "<RFC 3339 with ms>#<random>": unique, sorts by time
    action = UnicodeAttribute()
    actor = UnicodeAttribute()  # "identity:<key>", "partner:<id>", "staff:<subject>" or "system"
    client_ip = UnicodeAttribute(null=True)
    details = JSONAttribute(null=True)
    purge_at = NumberAttribute()


class SignalCount(Model):
    """R9 signals of one UTC day, one item per subject (an IP, a domain, a partner...), kept in the
    audit table's "signals#<day>#<shard>" partitions (storage/signals.py's SIGNAL_SHARDS, by subject) so
    staff read a day with a Query per shard and no partition takes every hold's write. Counters:
    these items are updated (ADD), unlike audit entries."""

    Meta = _Meta.for_table("audit")

    entity_id = UnicodeAttribute(hash_key=True)  # "signals#<YYYY-MM-DD>#<shard>"
    at = UnicodeAttribute(range_key=True)  # "<kind>#<subject>"
    kind = UnicodeAttribute(null=True)
    n = NumberAttribute(null=True)
    requests = NumberAttribute(null=True)  # per IP or e-mail domain: draw requests (n counts its holds)
    identities = UnicodeSetAttribute(null=True)  # short hashes of identity keys (per IP)
    booked = NumberAttribute(null=True)  # per partner
    cancelled = NumberAttribute(null=True)  # per partner
    lapsed = NumberAttribute(null=True)  # per partner: its holds and offers left to lapse
    details = JSONAttribute(null=True)
    purge_at = NumberAttribute(null=True)


ALL_MODELS = ALL_MODELS + (AuditEntry, Partner, PartnerKey, SignalCount)
TTL_ATTRIBUTES[AuditEntry] = "purge_at"
