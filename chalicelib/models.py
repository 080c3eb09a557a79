"""PynamoDB models: the shape of every DynamoDB table fairslot uses.

Times that conditions compare (available_from, expiries, cooldowns) are epoch seconds (numbers);
appointment times are RFC 3339 UTC strings so that they sort as range keys.
"""
from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.config import settings


class _Meta:
    """Shared table settings; each model's Meta adds its table name."""

    @classmethod
    def for_table(cls, suffix):
        attrs = {
            "table_name": f"{settings.table_prefix}-{suffix}",
            "region": settings.region,
            "billing_mode": "PAY_PER_REQUEST",
            # Fail fast and let the client retry: API Gateway's 29 s budget is not ours to spend.
            "connect_timeout_seconds": 2,
            "read_timeout_seconds": settings.dynamodb_read_timeout_seconds,
            "max_retry_attempts": settings.dynamodb_max_retries,
        }
        if settings.dynamodb_endpoint:
            attrs["host"] = settings.dynamodb_endpoint
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
    booking_id = UnicodeAttribute(null=True)
    freed_count = NumberAttribute(default=0)
    created_at = NumberAttribute()

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
    client_ip = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    purge_at = NumberAttribute()  # TTL: personal data goes some time after the appointment


class BookingDayIndex(GlobalSecondaryIndex):
    """Staff day list: every booking of one site on one local date."""

    class Meta:
        index_name = "day"
        projection = AllProjection()

    day_pk = UnicodeAttribute(hash_key=True)  # "<site_id>#<YYYY-MM-DD>"
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
    purge_at = NumberAttribute()

    day = BookingDayIndex()


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
    purge_at = NumberAttribute(null=True)


class Site(Model):
    """A prefecture or sous-prefecture; all sites share one partition so listing them is a Query."""

    Meta = _Meta.for_table("catalog")

    pk = UnicodeAttribute(hash_key=True, default="site")
    sk = UnicodeAttribute(range_key=True)  # site_id
    name = UnicodeAttribute()
    address = UnicodeAttribute()
    timezone = UnicodeAttribute()
    procedures = JSONAttribute()  # [{"procedure_id", "name"}]


class Policy(Model):
    """The §4 policy of one site and procedure (missing fields fall back to configuration)."""

    Meta = _Meta.for_table("catalog")

    pk = UnicodeAttribute(hash_key=True)  # "policy#<site_id>"
    sk = UnicodeAttribute(range_key=True)  # procedure_id
    values = JSONAttribute()
    updated_at = NumberAttribute()


class Counter(Model):
    """Fixed-window counters for rate limits; the window's end is also the item's TTL."""

    Meta = _Meta.for_table("counters")

    counter_key = UnicodeAttribute(hash_key=True)
    n = NumberAttribute(default=0)
    expires_ttl = NumberAttribute()


ALL_MODELS = (Slot, Hold, Booking, IdentityState, Site, Counter)
TTL_ATTRIBUTES = {
    Hold: "purge_at",
    Booking: "purge_at",
    IdentityState: "purge_at",
    Counter: "expires_ttl",
}
