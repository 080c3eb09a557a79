"""The anti-scalping rules (SPEC §4) as pure functions: no I/O, no boto3, no Chalice.

Storage turns each rule into a DynamoDB condition; this module says what the rule is, so tests of
the rules need nothing but Python. Times are epoch seconds; randomness comes in as an argument.
"""
import hashlib
import hmac
import re
import unicodedata
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from chalicelib.errors import InvalidValue

# --- Slot lifecycle --------------------------------------------------------------------------

# Stored states. "scheduled" and "quarantined" are not stored: they are an open (or formerly
# held) slot whose available_from is still in the future, which is what makes one uniform rule
# cover publication, quarantine and hold expiry alike.
OPEN, HELD, BOOKED, ATTENDED, NO_SHOW, CLOSED = "open", "held", "booked", "attended", "no_show", "closed"
REFUSED = "refused"  # check-in found another identity (R7): the appointment is refused
# Freed too close to its start to be re-offered online (R3): it stays with the counter.
FREED_LATE = "freed_late"
HOLDABLE_STATES = (OPEN, HELD)


def is_holdable(state, available_from, now):
    """The uniform rule: a slot can be held iff it is not booked/closed and available_from <= now.

    A held slot counts: its available_from is set, when the hold is taken, to the hold's expiry
    plus a quarantine, so an expired hold frees the slot only after that hidden quarantine."""
    return state in HOLDABLE_STATES and available_from <= now


def visible_state(state, available_from, freed_count, hold_expires_at, now, starts_at=None):
    """The §4 lifecycle name of a stored slot at `now` (for staff and statistics, never public).

    A lapsed hold whose slot was due back only at its start (hold_terms) was freed late."""
    if state == HELD and _hold_running(hold_expires_at, now):
        return HELD
    if state == HELD and _due_back_at_start(available_from, starts_at):
        return FREED_LATE
    if state not in HOLDABLE_STATES:
        return state
    if available_from <= now:
        return OPEN
    return "quarantined" if freed_count or state == HELD else "scheduled"


def _hold_running(hold_expires_at, now):
    return hold_expires_at is not None and hold_expires_at > now


def _due_back_at_start(available_from, starts_at):
    """hold_terms made the slot due back only at its start: its hold lapsed too close to it (R3)."""
    return starts_at is not None and available_from >= starts_at


# --- Policies --------------------------------------------------------------------------------

# auto: first come while nobody waits; a slot freed while a standby request can use it goes to
# the next draw (R6). fcfs: always first come. draw: always by draw.
AUTO, FCFS, DRAW = "auto", "fcfs", "draw"
ALLOCATIONS = (AUTO, FCFS, DRAW)


@dataclass(frozen=True)
class Policy:
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
    accepted_documents: tuple = ("agdref", "passport", "visa")  # R1: the document types a hold or request may name

    def as_dict(self):
        return asdict(self)


POLICY_FIELDS = tuple(f.name for f in fields(Policy))
_POLICY_LIMITS = {  # field: (minimum, maximum)
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


def policy_with(base, changes):
    """`base` with the fields of `changes` applied, each checked; raises InvalidValue naming the
    policy field (a policy field's name is its concept: the policy route's body uses the same names)."""
    if not isinstance(changes, dict):
        raise InvalidValue("policy", "The policy must be a JSON object.")
    values = {name: _policy_value(name, value) for name, value in changes.items()}
    policy = replace(base, **values)
    if policy.quarantine_min_seconds > policy.quarantine_max_seconds:
        raise InvalidValue("quarantine_min_seconds", "quarantine_min_seconds exceeds quarantine_max_seconds.")
    return policy


def _policy_value(name, value):
    """One policy field's value, checked: a known field, and within its choices or bounds."""
    if name not in POLICY_FIELDS:
        raise InvalidValue(name, f"Unknown policy field '{name}'.")
    if name == "allocation":
        if value not in ALLOCATIONS:
            raise InvalidValue(name, "allocation must be 'auto', 'fcfs' or 'draw'.")
        return value
    if name == "accepted_documents":
        return _accepted_documents(value)
    return _policy_number(name, value)


def _policy_number(name, value):
    """A numeric policy field within its bounds: a whole number, except the partner share (a fraction)."""
    low, high = _POLICY_LIMITS[name]
    fraction = name == "partner_share"
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool) and (fraction or value == int(value))
    if not numeric or not low <= value <= high:
        raise InvalidValue(name, f"{name} must be a number between {low} and {high}.")
    return float(value) if fraction else int(value)


def _accepted_documents(value):
    """A non-empty set of document types, kept in DOCUMENT_TYPES order (so equal sets compare equal)."""
    if (not isinstance(value, (list, tuple)) or not value
            or not all(isinstance(v, str) and v in DOCUMENT_TYPES for v in value) or len(set(value)) != len(value)):
        raise InvalidValue("accepted_documents",
                           "accepted_documents must be a non-empty list of distinct types among " + ", ".join(DOCUMENT_TYPES) + ".")
    return tuple(t for t in DOCUMENT_TYPES if t in value)


# --- R3 quarantine, R4 cooldown, hold terms --------------------------------------------------

def release_window(now, starts_at, policy):
    """R3: the (earliest, latest) instants a slot freed at `now` may come back to search, or None
    when it is too close to its start to be re-offered online (it stays with the counter).

    Normally [now + quarantine_min, now + quarantine_max]. Near the appointment the window moves
    earlier so that the slot comes back with at least half the time left, but it keeps a length
    of at least release_window_min_seconds: the instant is never one anybody can compute."""
    low, high = policy.quarantine_min_seconds, policy.quarantine_max_seconds
    latest = (starts_at - now) / 2
    if high > latest:
        length = max(high - low, policy.release_window_min_seconds)
        high = latest
        low = max(0.0, high - length)
        if high - low < policy.release_window_min_seconds:
            return None
    return now + low, now + high


def quarantine_end(now, starts_at, policy, rng):
    """R3: the hidden instant a freed slot becomes holdable again, uniform over release_window;
    None when it was freed too late to come back online."""
    window = release_window(now, starts_at, policy)
    return None if window is None else rng.uniform(*window)


def hold_terms(now, starts_at, policy, rng, ttl_seconds=None):
    """A new hold's expiry, and the available_from the slot takes with it: the expiry followed
    by a quarantine, so letting a hold lapse frees the slot no sooner than releasing it. A hold
    lapsing too close to the start leaves the slot with the counter: due back only at its start,
    when nothing can take it any more."""
    expires_at = now + (ttl_seconds or policy.hold_ttl_seconds)
    back = quarantine_end(expires_at, starts_at, policy, rng)
    return expires_at, (starts_at if back is None else back)


def cooldown_until(now, policy):
    """R4: when an identity that let a hold go or cancelled may hold again."""
    return now + policy.cooldown_seconds


def retry_after_seconds(until, now):
    return max(1, int(-(-(until - now) // 1)))


# --- R5 random publication -------------------------------------------------------------------

def publication_instants(now, count, policy, mode, rng):
    """R5: when each new slot becomes visible: now, or uniform over the publication window."""
    if mode == "now" or policy.publish_window_seconds == 0:
        return [now] * count
    return [now + rng.uniform(0, policy.publish_window_seconds) for _ in range(count)]


def schedule_slot_times(tz_name, first_day, last_day, weekdays, opens, closes, slot_minutes, counters):
    """Every (starts_at, ends_at, counter) in UTC that a staff opening schedule describes.

    weekdays use Monday=0 .. Sunday=6; times are local to the site's timezone."""
    tz = ZoneInfo(tz_name)
    step = timedelta(minutes=slot_minutes)
    out = []
    day = first_day
    while day <= last_day:
        if day.weekday() in weekdays:
            start = datetime.combine(day, opens, tz)
            end_of_day = datetime.combine(day, closes, tz)
            while start + step <= end_of_day:
                for counter in range(counters):
                    out.append((start.astimezone(timezone.utc), (start + step).astimezone(timezone.utc), counter))
                start = start + step
        day += timedelta(days=1)
    return out


def slot_id(secret, site_id, procedure_id, starts_at_key, counter):
    """A slot's id: always the same for one counter's one opening, so publishing a schedule again
    (a retry after a failure, or more counters) never doubles a slot; keyed with a server secret,
    so nobody can compute an id before the slot is published and hold it without searching."""
    message = f"slot|{site_id}|{procedure_id}|{starts_at_key}|{counter}".encode()
    return "slot_" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:24]


def local_date(starts_at_utc, tz_name):
    return starts_at_utc.astimezone(ZoneInfo(tz_name)).date().isoformat()


# --- R1 identity -----------------------------------------------------------------------------

DOCUMENT_TYPES = ("agdref", "passport", "visa")
# Checked after normalisation, on ASCII only: `\d` and `[A-Z]` would let other scripts through.
_DOC_PATTERNS = {
    "agdref": re.compile(r"[0-9]{10}", re.ASCII),
    "passport": re.compile(r"[A-Z0-9]{6,12}", re.ASCII),
    "visa": re.compile(r"[A-Z0-9]{6,16}", re.ASCII),
}
# What people put between the characters of a number and what copy-paste adds: every Unicode
# space (Z*) and dash (Pd), invisible format characters (Cf: zero-width space, soft hyphen, BOM,
# direction marks), and the dots, slashes and minus signs that are not in those categories.
_SEPARATOR_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Pd", "Cf"})
_SEPARATORS = frozenset(".\u00b7\u2027\u30fb\u3002/\\\u2044\u2215\u2212_")


def _document_characters(number):
    """NFKC, every decimal digit of any script as its ASCII digit, separators dropped."""
    out = []
    for ch in unicodedata.normalize("NFKC", number):
        if ch in _SEPARATORS or ch.isspace() or unicodedata.category(ch) in _SEPARATOR_CATEGORIES:
            continue
        digit = unicodedata.decimal(ch, None)
        out.append(str(digit) if digit is not None else ch)
    return "".join(out)


def normalise_document(doc_type, number):
    """The canonical document number, so that one document is one identity however it is typed:
    Unicode NFKC (fullwidth letters and digits become ASCII), any decimal digit (Arabic-Indic,
    Devanagari...) as its ASCII digit, separators dropped, upper case; then checked per type.
    Whatever is still not ASCII is refused, before upper-casing (which would turn 'ß' into 'SS'
    and a dotless 'ı' into 'I': two spellings of one number)."""
    if doc_type not in DOCUMENT_TYPES:
        raise InvalidValue("document_type", "Document type must be agdref, passport or visa.")
    if not isinstance(number, str) or len(number) > 200:
        raise InvalidValue("document_number", "Document number must be a string of at most 200 characters.")
    canonical = _document_characters(number)
    if not canonical.isascii():
        raise InvalidValue("document_number",
                           f"The {doc_type} number contains characters outside its format (letters A-Z and digits only).")
    canonical = canonical.upper()
    if not _DOC_PATTERNS[doc_type].fullmatch(canonical):
        hint = "an AGDREF number has 10 digits" if doc_type == "agdref" else "letters and digits only"
        raise InvalidValue("document_number", f"Invalid {doc_type} number ({hint}).")
    return canonical


def check_accepted_document(doc_type, policy):
    """R1: a procedure accepts only the document types its policy lists (renewals: the AGDREF
    number every renewing applicant has, so one person cannot enter once per document)."""
    if doc_type not in policy.accepted_documents:
        raise InvalidValue("document_type",
                           "This procedure accepts only these documents: " + ", ".join(policy.accepted_documents) + ".")


def identity_key(secret, doc_type, number, birth_date):
    """R1: the identity key, an HMAC of the normalised document and birth date; the raw number
    is never stored. Passports and visas are one identity space (a visa sits in a passport)."""
    canonical = normalise_document(doc_type, number)
    kind = "agdref" if doc_type == "agdref" else "travel"
    message = f"{kind}|{canonical}|{birth_date.isoformat()}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def check_birth_date(value, today):
    if not isinstance(value, date) or value >= today or value < date(today.year - 130, 1, 1):
        raise InvalidValue("birth_date", "Birth date must be a past date (YYYY-MM-DD).")
    return value


# --- R8 rate limits --------------------------------------------------------------------------

def hour_window(now):
    """The fixed one-hour window a per-IP hold counter belongs to: (window id, window end)."""
    start = int(now // 3600) * 3600
    return start, start + 3600



# --- R6 draw allocation ----------------------------------------------------------------------

URGENT_PERMIT_DAYS = 60  # permits expiring within this many days of the draw form the first tier


def request_tier(permit_expires_on, draw_day):
    """1 for a permit expiring within URGENT_PERMIT_DAYS of the draw (or already expired), else 2."""
    if permit_expires_on is not None and (permit_expires_on - draw_day).days <= URGENT_PERMIT_DAYS:
        return 1
    return 2


def declared_urgency_holds(tier, draw_day, permit_read_on):
    """R7: a booking won in the urgent tier is honest iff the permit the agent reads at the counter
    would have put it in that tier on the draw's day. Other bookings claimed nothing to check.
    The read expiry is required for an urgent booking (InvalidValue naming permit_expiry)."""
    if tier != 1:
        return True
    if permit_read_on is None:
        raise InvalidValue("permit_expiry", "This booking was won in the urgent tier: {permit_expiry}, the expiry read on "
                                            "the permit, is required.")
    return request_tier(permit_read_on, draw_day) == 1


def _draw_number(seed_hex, label):
    """A 256-bit number from the seed and a label: HMAC-SHA256(seed, label), big-endian.

    Only this and integer arithmetic make the draw, so anyone can replay it from the published
    seed with any HMAC implementation."""
    return int.from_bytes(hmac.new(bytes.fromhex(seed_hex), label.encode(), hashlib.sha256).digest(), "big")


def allocate(requests, slots, seed_hex):
    """R6: the draw. `requests`: dicts with request_id, tier, first_day, last_day (ISO dates, the
    wanted range), excluded_slots (slots this identity freed) and, for a partner's request,
    partner: true; `slots`: dicts with slot_id, day (ISO date) and, for a slot of the partner
    share still reserved, reserved: true (only a partner's request may get it).
    Returns [(request_id, slot_id)].

    Requests are taken tier by tier, in a random order within a tier (sorted by their draw
    number); each takes a slot uniformly at random among those still free that fall in its range
    and that it did not free itself. So within a tier every request has the same chance."""
    order = sorted(requests, key=lambda r: (r["tier"], _draw_number(seed_hex, "order|" + r["request_id"]), r["request_id"]))
    free = sorted(slots, key=lambda s: s["slot_id"])
    taken, result = set(), []
    for request in order:
        excluded = set(request.get("excluded_slots") or ())
        candidates = [
            s for s in free
            if s["slot_id"] not in taken and s["slot_id"] not in excluded
            and request["first_day"] <= s["day"] <= request["last_day"]
            and (request.get("partner") or not s.get("reserved"))
        ]
        if not candidates:
            continue
        pick = candidates[_draw_number(seed_hex, "slot|" + request["request_id"]) % len(candidates)]
        taken.add(pick["slot_id"])
        result.append((request["request_id"], pick["slot_id"]))
    return result


def seed_commitment(seed_hex):
    """What is published before a draw: SHA-256 of the seed."""
    return hashlib.sha256(bytes.fromhex(seed_hex)).hexdigest()


# --- Routing a freed slot (R3 + R6) ------------------------------------------------------------

TO_DRAW, TO_SEARCH, TO_COUNTER = "draw", "search", "counter"


def covers(ranges, day):
    """Does any live request's range [first_day, last_day] (ISO dates) cover this local day?"""
    return any(first <= day <= last for first, last in ranges)


def route_freed_slot(policy, covered, now, starts_at):
    """Where a slot that becomes free goes: the next draw where people wait for it (draw mode, or
    auto with a live request covering its day), else search at a random instant; in either case
    the counter when too little time is left for a draw and an offer, or for a release window."""
    if policy.allocation == DRAW or (policy.allocation == AUTO and covered):
        if starts_at - now < policy.draw_interval_seconds + policy.offer_ttl_seconds:
            return TO_COUNTER
        return TO_DRAW
    return TO_SEARCH if release_window(now, starts_at, policy) is not None else TO_COUNTER


def freed_slot_terms(now, starts_at, policy, covered, rng):
    """How a slot freed at `now` comes back: (available_from, draw_from), or None when freed too
    late (it stays with the counter).

    - to search: after a random quarantine, (instant, None);
    - to the draw in draw mode: (now, None), there is no search;
    - to the draw in auto: (starts_at, now): search never shows it by itself; the draw may take it
      from now, and whatever a draw does not give away it sends to search at a random instant. So
      withdrawing the covering request does not bring the slot back at a moment anybody chose."""
    route = route_freed_slot(policy, covered, now, starts_at)
    if route == TO_DRAW:
        return (now, None) if policy.allocation == DRAW else (starts_at, now)
    if route == TO_SEARCH:
        return quarantine_end(now, starts_at, policy, rng), None
    return None


def standby_allowed(policy):
    """Requests are filed in draw mode, and in auto as standby requests (when search finds nothing)."""
    return policy.allocation in (AUTO, DRAW)


def searchable(policy):
    return policy.allocation != DRAW


def offerable(starts_at, now, policy):
    """A draw offers only a slot whose appointment leaves time to confirm the offer."""
    return starts_at - now >= policy.offer_ttl_seconds


def slot_tag(identity_key, slot_id):
    """What a slot keeps of who held or freed it (R6: a draw never gives it back to them): a hash
    of the identity key and the slot, not the key. Slots have no TTL; a tag names nobody and
    links no two slots, yet a draw recomputes it for each entrant and compares."""
    return hashlib.sha256(f"slot-tag|{identity_key}|{slot_id}".encode()).hexdigest()[:32]
