"""What use cases and storage hand each other: frozen values, standard library only.

Storage reads return these (never PynamoDB items) and writes take them; storage alone builds
items, keys and index partitions from them. Every conditional write returns an Outcome: ok
with its value, or which of its labelled conditions failed, with the facts a refusal needs
(refusals.py chooses).
"""
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn


@dataclass(frozen=True)
class Applicant:
    """The applicant as a hold, booking or request keeps them (the document number is in the identity key only)."""
    document_type: str
    family_name: str
    given_names: str
    email: str
    phone: str | None = None


@dataclass(frozen=True)
class Slot:
    """One appointment slot of a site and procedure, with its state and hidden release instant."""
    slot_id: str
    site_id: str
    procedure_id: str
    starts_at: str
    ends_at: str
    state: str
    available_from: float
    created_at: float
    hold_id: str | None = None
    hold_expires_at: float | None = None
    hold_identity: str | None = None  # domain.slot_tag of the identity holding it
    freed_by: str | None = None  # domain.slot_tag of who freed it last
    booking_id: str | None = None
    freed_count: int = 0
    draw_from: float | None = None
    reserved_until: float | None = None
    hold_partner: str | None = None  # the partner whose hold or offer it is (R9: a lapse is its signal)


@dataclass(frozen=True)
class Hold:
    """A slot held for one identity until `expires_at`: released, confirmed into a booking, or lapsed."""
    hold_id: str
    token_hash: str
    slot_id: str
    site_id: str
    procedure_id: str
    starts_at: str
    ends_at: str
    identity_key: str
    applicant: Applicant
    expires_at: float
    status: str  # active | released | confirmed | closed
    created_at: float
    purge_at: int
    booking_id: str | None = None
    reference: str | None = None
    request_id: str | None = None  # a draw's offer
    client_ip: str | None = None
    partner_id: str | None = None
    tier: int | None = None
    permit_expires_on: str | None = None
    draw_day: str | None = None


@dataclass(frozen=True)
class Booking:
    """A confirmed appointment, until it is cancelled, attended, refused, missed or closed."""
    booking_id: str
    token_hash: str
    reference: str
    hold_id: str
    slot_id: str
    site_id: str
    procedure_id: str
    starts_at: str
    ends_at: str
    day: str  # the appointment's local date at its site (ISO): the staff's day list
    identity_key: str
    applicant: Applicant
    status: str  # booked | cancelled | attended | refused | no_show | closed
    created_at: float
    purge_at: int
    partner_id: str | None = None
    cancelled_at: float | None = None
    freed_late: bool | None = None
    checked_in_at: float | None = None
    reminded_at: float | None = None
    tier: int | None = None
    permit_expires_on: str | None = None
    draw_day: str | None = None
    link_requested_at: float | None = None


@dataclass(frozen=True)
class Request:
    """A standby request for a draw: one per identity and procedure while it is live (R6)."""
    request_id: str
    token_hash: str
    site_id: str
    procedure_id: str
    identity_key: str
    applicant: Applicant
    first_day: str
    last_day: str
    status: str  # waiting | offered | booked | withdrawn
    created_at: float
    purge_at: int
    permit_expires_on: str | None = None
    hold_id: str | None = None
    offer_expires_at: float | None = None
    booking_id: str | None = None
    partner_id: str | None = None


@dataclass(frozen=True)
class Draw:
    """One draw of a site and procedure: its committed seed, its lease and how far its run got."""
    site_id: str
    procedure_id: str
    draw_id: str
    status: str  # committed | running | allocating | run
    seed_hash: str
    committed_at: float
    seed: str | None = None  # revealed: written only when the allocation is recorded
    seed_sealed: str | None = None  # platform/draw_seal.py's until then
    entrants_hash: str | None = None  # lottery.entrants_digest of the recorded entrants
    run_by: str | None = None  # "staff:<subject>" for a staff-run draw (the schedule's: None)
    early_reason: str | None = None  # an admin's reason for running it before draw_interval_seconds
    run_at: float | None = None
    runner: str | None = None
    lease_until: float | None = None
    attempt: int | None = None
    resumed: int | None = None
    record_attempt: int | None = None
    record_parts: dict | None = None
    recorded_at: float | None = None
    entrant_count: int | None = None
    slot_count: int | None = None
    allocated_count: int | None = None
    offers_done: int | None = None
    offered_count: int | None = None
    skipped_count: int | None = None
    done_at: float | None = None


@dataclass(frozen=True)
class StaffRun:
    """Who runs a draw from the staff API, and why early if so: kept on the draw and audited."""
    subject: str
    client_ip: str | None
    audit: "NewAuditEntry"
    early_reason: str | None = None


@dataclass(frozen=True)
class Site:
    """A prefecture site and the procedures it offers."""
    site_id: str
    name: str
    address: str
    timezone: str
    procedures: list
    name_en: str | None = None


@dataclass(frozen=True)
class StoredPolicy:
    """A procedure's stored policy fields and when they were last saved."""
    values: dict
    updated_at: float


@dataclass(frozen=True)
class Partner:
    """A partner association, its daily quota and the hash of its API key."""
    partner_id: str
    name: str
    daily_quota: int
    key_hash: str
    created_at: float
    revoked_at: float | None = None
    sites: frozenset[str] = frozenset()  # R11: the sites its key may act on (none: nowhere)
    gateway_key_id: str | None = None


@dataclass(frozen=True)
class PartnerKey:
    """The live partner behind an API key (what the authorizer needs)."""
    partner_id: str
    name: str
    daily_quota: int
    sites: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AuditEntry:
    """One entry of an item's audit trail."""
    entity_id: str
    at: str  # "<RFC 3339 with ms>#<random>"
    action: str
    actor: str
    client_ip: str | None = None
    details: dict | None = None


@dataclass(frozen=True)
class Signal:
    """One R9 counter of a UTC day: `at` is "<kind>#<subject>"."""
    at: str
    kind: str | None = None
    n: int | None = None
    requests: int | None = None
    identities: set | None = None
    booked: int | None = None
    cancelled: int | None = None
    lapsed: int | None = None
    details: dict | None = None


@dataclass(frozen=True)
class NewAuditEntry:
    """An audit entry to append in the transaction of the change it records: storage builds its
    item (a new one, never an update). `at` is the change's instant (epoch seconds); the entry is
    kept until `purge_at`."""
    entity_id: str
    action: str
    actor: str
    at: float
    purge_at: float
    client_ip: str | None = None
    details: dict | None = None


@dataclass(frozen=True)
class NewSignal:
    """An R9 signal to count in the transaction of what caused it, at `at` (epoch seconds):
    storage adds it to the day's counter of `kind` and `subject` (a hold's or, `request`, a draw
    request's; `identity`, a short identity hash, joins the counter's set; a partner's counter
    adds `booked`, `cancelled` and `lapsed`), or writes a one-off item with its `details` when given."""
    kind: str
    subject: str
    at: float
    request: bool = False
    identity: str | None = None
    booked: int = 0
    cancelled: int = 0
    lapsed: int = 0
    details: dict | None = None


@dataclass(frozen=True)
class Outcome:
    """What a conditional write of storage did, every one the same way: `ok`, with its `value`
    (the record as stored, the count created... or None); or refused, with the labels of its
    conditions that failed and the facts a refusal needs (an identity's hold expiry, lapse and
    cooldown ends, a hold's status...), for refusals.py to choose the answer.

    Read it through `.ok` (`if not result.ok: raise refusals...(result).exception()`), never as a
    truth value: refused is not falsy here, so a truth test raises rather than guess."""
    conditions: frozenset = frozenset()
    facts: Mapping[str, Any] = field(default_factory=dict)
    value: Any = None

    @classmethod
    def of(cls, failed: Iterable[str | int], facts: Mapping[str, Any] | None = None, value: Any = None) -> "Outcome":
        """From the labels of a write's conditions that failed: refused with them and `facts`;
        none failed, done with `value`."""
        return cls(frozenset(failed), facts or {}) if failed else cls(value=value)

    @classmethod
    def done(cls, value: Any = None) -> "Outcome":
        return cls(value=value)

    @classmethod
    def refused(cls, *labels: str, **facts: Any) -> "Outcome":
        return cls(frozenset(labels), facts)

    @property
    def ok(self) -> bool:
        return not self.conditions

    def __contains__(self, label: object) -> bool:
        return label in self.conditions

    def __bool__(self) -> NoReturn:
        raise TypeError("an Outcome is read through .ok, not as a truth value")


@dataclass(frozen=True)
class IdentityLocks:
    """What an identity holds, as its scopes say (staff free a person at the counter): its hold
    (live or lapsed into its cooldown), the end of its cooldown (the later of a lapse's and a
    cancellation's, 0 if none), and its live booking and request for one procedure."""
    hold_id: str | None
    hold_live: bool
    cooldown_until: float
    booking_id: str | None
    request_id: str | None
    has_hold_scope: bool
