"""A procedure's policy (SPEC §4 policies): its fields, defaults and bounds, checked as a whole."""
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from chalicelib.rules.errors import InvalidValue
from chalicelib.rules.identity_keys import DOCUMENT_TYPES

# auto: first come while nobody waits; a slot freed while a standby request can use it goes to
# the next draw (R6). fcfs: always first come. draw: always by draw.
AUTO, FCFS, DRAW = "auto", "fcfs", "draw"


ALLOCATIONS = (AUTO, FCFS, DRAW)

# R10: how a procedure proves who an applicant is before a hold, a request or a look-up binds them.
# registry: the number, birth date and family name match the foreign nationals' registry, and the
# one-time code goes to the contact the registry holds; contact: the code goes to the e-mail typed
# (one mailbox proves one identity per procedure); none: nothing is proven (DEVELOPERS.md, "Proven identities").
REGISTRY, CONTACT, NONE = "registry", "contact", "none"
IDENTITY_CHECKS = (REGISTRY, CONTACT, NONE)


@dataclass(frozen=True)
class Policy:
    """A procedure's policy: the defaults below, with the fields its staff changed (checked by policy_with)."""
    hold_ttl_seconds: int = 600
    quarantine_min_seconds: int = 1800
    quarantine_max_seconds: int = 21600
    cooldown_seconds: int = 86400
    allocation: str = AUTO
    publish_window_seconds: int = 3600
    draw_interval_seconds: int = 86400
    offer_ttl_seconds: int = 86400
    partner_share: float = 0.0
    max_holds_per_ip_per_hour: int = 20
    partner_release_lead_seconds: int = 172800  # unused partner share goes public about this long before
    # The shortest window a freed slot's (or the partner share's) release instant is drawn from:
    # however close the appointment, the instant is never a computable point (R3).
    release_window_min_seconds: int = 900
    accepted_documents: tuple[str, ...] = ("agdref", "passport", "visa")  # R1: the document types a hold or request may name
    identity_check: str = CONTACT  # R10: registry, contact or none (renewals: registry, by configuration)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


POLICY_FIELDS = tuple(f.name for f in fields(Policy))


_POLICY_LIMITS: dict[str, tuple[float, float]] = {  # field: (minimum, maximum)
    "hold_ttl_seconds": (1, 86400),
    "quarantine_min_seconds": (0, 30 * 86400),
    "quarantine_max_seconds": (0, 30 * 86400),
    "cooldown_seconds": (0, 365 * 86400),
    "publish_window_seconds": (0, 30 * 86400),
    "draw_interval_seconds": (1, 30 * 86400),
    "offer_ttl_seconds": (1, 30 * 86400),
    "partner_share": (0.0, 1.0),
    "max_holds_per_ip_per_hour": (1, 1_000_000),
    "partner_release_lead_seconds": (0, 365 * 86400),
    "release_window_min_seconds": (1, 30 * 86400),
}


def policy_with(base: Policy, changes: object) -> Policy:
    """`base` with the fields of `changes` applied, each checked; raises InvalidValue naming the
    policy field (a policy field's name is its concept: the policy route's body uses the same names)."""
    if not isinstance(changes, dict):
        raise InvalidValue("policy", "The policy must be a JSON object.")
    values: dict[str, Any] = {name: _policy_value(name, value) for name, value in changes.items()}
    policy = replace(base, **values)
    if policy.quarantine_min_seconds > policy.quarantine_max_seconds:
        raise InvalidValue("quarantine_min_seconds", "quarantine_min_seconds exceeds quarantine_max_seconds.")
    return policy


def _policy_value(name: str, value: object) -> str | int | float | tuple[str, ...]:
    """One policy field's value, checked: a known field, and within its choices or bounds."""
    if name not in POLICY_FIELDS:
        raise InvalidValue(name, f"Unknown policy field '{name}'.")
    if name == "allocation":
        if value not in ALLOCATIONS:
            raise InvalidValue(name, "allocation must be 'auto', 'fcfs' or 'draw'.")
        return value
    if name == "identity_check":
        if value not in IDENTITY_CHECKS:
            raise InvalidValue(name, "identity_check must be 'registry', 'contact' or 'none'.")
        return value
    if name == "accepted_documents":
        return _accepted_documents(value)
    return _policy_number(name, value)


def _policy_number(name: str, value: object) -> int | float:
    """A numeric policy field within its bounds: a whole number, except the partner share (a fraction)."""
    low, high = _POLICY_LIMITS[name]
    fraction = name == "partner_share"
    if (not isinstance(value, (int, float)) or isinstance(value, bool) or not (fraction or value == int(value))
            or not low <= value <= high):
        raise InvalidValue(name, f"{name} must be a number between {low} and {high}.")
    return float(value) if fraction else int(value)


def _accepted_documents(value: object) -> tuple[str, ...]:
    """A non-empty set of document types, kept in DOCUMENT_TYPES order (so equal sets compare equal)."""
    if (not isinstance(value, (list, tuple)) or not value
            or not all(isinstance(v, str) and v in DOCUMENT_TYPES for v in value) or len(set(value)) != len(value)):
        raise InvalidValue("accepted_documents",
                           "accepted_documents must be a non-empty list of distinct types among " + ", ".join(DOCUMENT_TYPES) + ".")
    return tuple(t for t in DOCUMENT_TYPES if t in value)
