"""Pure rules of partners and staff oversight: partner share, partner quota, check-in, signals.

Like domain.py: no I/O, no boto3, no Chalice; times are epoch seconds, randomness an argument.
"""
import hashlib
import hmac
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from random import Random
from typing import Any, NotRequired, TypedDict

from chalicelib.rules.policies import Policy

# --- partner share ---------------------------------------------------------------------------


def reserved_slot_ids(slots_by_day: Mapping[str, Iterable[str]], share: float, rng: Random) -> set[str]:
    """Per day, round(share * slots of that day) slots chosen uniformly at random for partners.

    `slots_by_day`: {day: [slot_id, ...]}. Returns a set of slot ids."""
    chosen: set[str] = set()
    if share <= 0:
        return chosen
    for day in sorted(slots_by_day):
        ids = sorted(slots_by_day[day])
        count = min(len(ids), int(round(share * len(ids))))
        chosen.update(rng.sample(ids, count))
    return chosen


def reserved_until(starts_at: float, policy: Policy, rng: Random) -> float:
    """When unused partner share goes public: a random instant of the release window that ends
    the policy's lead time before the appointment (never a time anybody can compute, R3)."""
    latest = starts_at - policy.partner_release_lead_seconds
    return latest - rng.uniform(0, policy.release_window_min_seconds)


# --- partner quota ---------------------------------------------------------------------------


def day_window(now: float) -> tuple[int, int]:
    """The fixed UTC day a partner's daily quota counts in: (window start, window end)."""
    start = int(now // 86400) * 86400
    return start, start + 86400


class PartnerQuota(TypedDict):
    """R8: how many holds one partner may take in one day_window, as storage counts them."""
    partner_id: str
    window: tuple[int, int]  # day_window(now)
    max: int


# --- R7 check-in -----------------------------------------------------------------------------


def identities_match(presented_key: str, booked_key: str) -> bool:
    """R7: the document shown at the counter is the one bound to the booking (constant time)."""
    return hmac.compare_digest(presented_key, booked_key)


def check_in_status(match: bool, urgency_holds: bool = True) -> str:
    """Attended only if the identity matches and, for a booking won as urgent, the urgency holds."""
    return "attended" if match and urgency_holds else "refused"


# --- R9 signals ------------------------------------------------------------------------------

# Throw-away mail services traffickers register fake applicants with (a small built-in list).
DISPOSABLE_EMAIL_DOMAINS = frozenset({
    "yopmail.com", "yopmail.fr", "mailinator.com", "guerrillamail.com", "guerrillamail.net",
    "10minutemail.com", "temp-mail.org", "tempmail.com", "trashmail.com", "jetable.org",
    "sharklasers.com", "getnada.com", "maildrop.cc", "dispostable.com", "throwawaymail.com",
    "fakeinbox.com", "mohmal.com", "emailondeck.com", "mintemail.com", "spamgourmet.com",
})
IDENTITIES_PER_IP_THRESHOLD = 3
PARTNER_CANCEL_RATE_THRESHOLD = 0.3
PARTNER_MIN_BOOKINGS = 5


class IdentityLimit(TypedDict):
    """R8: how many times one identity may do something (ask for a one-time code) in one window."""
    identity: str  # the identity key
    window: tuple[int, int]
    max: int


class SignalCounter(TypedDict):
    """One of a day's signal counters, as the functions below read it (storage's counts, read by fraud_signals)."""
    kind: str  # ip, cooldown, checkin_mismatch, false_urgency, email_domain, partner, partner_identity or partner_urgent
    subject: str  # "<ip>#<hour>", a booking id, an e-mail domain, a partner id...
    n: NotRequired[int]
    requests: NotRequired[int]
    identities: NotRequired[set[str]]  # identity_short of each identity behind an IP
    booked: NotRequired[int]
    cancelled: NotRequired[int]
    lapsed: NotRequired[int]
    details: NotRequired[dict[str, Any] | None]


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


def is_disposable(email: str) -> bool:
    domain = email_domain(email)
    return any(domain == d or domain.endswith("." + d) for d in DISPOSABLE_EMAIL_DOMAINS)


def identity_short(identity_key: str) -> str:
    """A short stand-in for an identity key, enough to count distinct identities behind an IP."""
    return hashlib.sha256(identity_key.encode()).hexdigest()[:12]


def identities_by_ip(items: Iterable[SignalCounter]) -> dict[str, list[Any]]:
    """{client IP: [distinct identities behind it, holds, draw requests]} from the day's "ip"
    counters (`items` as for summarize_signals), merged over their hours."""
    ips: defaultdict[str, list[Any]] = defaultdict(lambda: [set(), 0, 0])  # [identities, holds, requests]
    for item in items:
        if item["kind"] == "ip":  # subject "<ip>#<hour>": one item per IP and hour
            ip = item["subject"].rsplit("#", 1)[0] if "#" in item["subject"] else item["subject"]
            ips[ip][0].update(item.get("identities") or ())
            ips[ip][1] += item.get("n") or 0
            ips[ip][2] += item.get("requests") or 0
    return ips


def many_identities_per_ip(items: Iterable[SignalCounter]) -> tuple[int, int]:
    """The day's figures for the R9 alarm: (the most distinct identities behind one IP, how many
    IPs have IDENTITIES_PER_IP_THRESHOLD or more)."""
    counts = [len(identities) for identities, _, _ in identities_by_ip(items).values()]
    return max(counts, default=0), sum(1 for c in counts if c >= IDENTITIES_PER_IP_THRESHOLD)


def summarize_signals(items: Sequence[SignalCounter]) -> dict[str, Any]:
    """What staff review: `items` are the day's signal counters as dicts (kind, subject, n,
    requests, identities, booked, cancelled, details). Returns the §4 R9 signals, worst first."""
    return {
        "identities_per_ip": sorted(_ips_behind_many_identities(items), key=lambda s: -s["identities"]),
        "cooldown_refusals": sum(item.get("n") or 0 for item in _of_kind(items, "cooldown")),
        "checkin_mismatches": [_booking_details(item) for item in _of_kind(items, "checkin_mismatch")],
        "false_urgency": [_booking_details(item) for item in _of_kind(items, "false_urgency")],
        # Staff freed a person at the counter (R10): each time, with who, where and why.
        "identities_released": [item.get("details") or {"subject": item["subject"]} for item in _of_kind(items, "identity_released")],
        "disposable_email_domains": sorted(_email_domains(items), key=lambda s: -s["holds"]),
        "partner_cancellations": sorted(_partners_cancelling_often(_partner_totals(items)), key=lambda s: -s["rate"]),
        "partners": sorted(_partner_activity(items), key=lambda s: (-s["identities"], s["partner_id"])),
        "one_person_several_documents": sorted(_people_under_several_documents(items), key=lambda s: -s["documents"]),
    }


def _partner_activity(items: Sequence[SignalCounter]) -> list[dict[str, Any]]:
    """Every partner key active today: distinct identities it acted for, holds, requests, urgent
    declarations, bookings, cancellations and holds or offers left to lapse (R9, per partner key)."""
    keys: defaultdict[str, list[Any]] = defaultdict(lambda: [set(), 0, 0, 0])  # [identities, holds, requests, urgent]
    for item in items:
        if item["kind"] == "partner_identity":  # subject "<partner id>#<hour>"
            found = keys[item["subject"].rsplit("#", 1)[0]]
            found[0].update(item.get("identities") or ())
            found[1] += item.get("n") or 0
            found[2] += item.get("requests") or 0
        elif item["kind"] == "partner_urgent":
            keys[item["subject"]][3] += item.get("n") or 0
    totals = _partner_totals(items)
    return [{"partner_id": pid, "identities": len(identities), "holds": holds, "requests": requests, "urgent": urgent,
             "booked": totals.get(pid, [0, 0, 0])[0], "cancelled": totals.get(pid, [0, 0, 0])[1], "lapsed": totals.get(pid, [0, 0, 0])[2]}
            for pid, (identities, holds, requests, urgent) in {**{p: [set(), 0, 0, 0] for p in totals}, **keys}.items()]


def _people_under_several_documents(items: Iterable[SignalCounter]) -> list[dict[str, Any]]:
    """R10, one person one entry: a family name and birth date (a "person" counter, per procedure)
    that held or filed under two documents or more in a day. A signal, not a refusal: homonyms
    born the same day exist (a registered 1 January is common where births went unrecorded)."""
    people: defaultdict[str, set[str]] = defaultdict(set)
    for item in _of_kind(items, "person"):  # subject "<person key>#<hour>"
        people[item["subject"].rsplit("#", 1)[0]].update(item.get("identities") or ())
    return [{"person": person, "documents": len(documents)} for person, documents in people.items() if len(documents) >= 2]


def _of_kind(items: Iterable[SignalCounter], kind: str) -> list[SignalCounter]:
    return [item for item in items if item["kind"] == kind]


def _booking_details(item: SignalCounter) -> dict[str, Any]:
    """A check-in mismatch or false urgency as recorded, or at least the booking it is about."""
    return item.get("details") or {"booking_id": item["subject"]}


def _ips_behind_many_identities(items: Iterable[SignalCounter]) -> list[dict[str, Any]]:
    """IPs with IDENTITIES_PER_IP_THRESHOLD or more distinct identities behind them today."""
    return [{"client_ip": ip, "identities": len(identities), "holds": holds, "requests": requests}
            for ip, (identities, holds, requests) in identities_by_ip(items).items()
            if len(identities) >= IDENTITIES_PER_IP_THRESHOLD]


def _email_domains(items: Iterable[SignalCounter]) -> list[dict[str, Any]]:
    """The day's holds and draw requests per email domain (only disposable ones are counted)."""
    return [{"domain": item["subject"], "holds": item.get("n") or 0, "requests": item.get("requests") or 0}
            for item in _of_kind(items, "email_domain")]


def _partner_totals(items: Iterable[SignalCounter]) -> dict[str, list[int]]:
    """{partner id: [bookings, cancellations, lapses]} over the day's "partner" counters."""
    partners: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for item in _of_kind(items, "partner"):
        partners[item["subject"]][0] += item.get("booked") or 0
        partners[item["subject"]][1] += item.get("cancelled") or 0
        partners[item["subject"]][2] += item.get("lapsed") or 0
    return partners


def _partners_cancelling_often(partners: Mapping[str, list[int]]) -> list[dict[str, Any]]:
    """Partners with PARTNER_MIN_BOOKINGS or more whose cancellations reach the threshold rate."""
    found = []
    for partner_id, (booked, cancelled, _) in partners.items():
        rate = cancelled / booked if booked else (1.0 if cancelled else 0.0)
        if max(booked, cancelled) >= PARTNER_MIN_BOOKINGS and rate >= PARTNER_CANCEL_RATE_THRESHOLD:
            found.append({"partner_id": partner_id, "booked": booked, "cancelled": cancelled, "rate": round(rate, 3)})
    return found
