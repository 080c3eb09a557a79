"""Sites, procedures, policies and opening schedules: what staff configure and everyone reads."""
import random
import time

from chalicelib import domain, oversight, storage
from chalicelib.clock import epoch_of, parse_instant, utc_key
from chalicelib.config import settings
from chalicelib.errors import InvalidField, NotFound
from chalicelib.models import Slot
from chalicelib.tokens import new_id

_cache = {}  # key -> (expires_monotonic, value); sites and policies change rarely


def _cached(key, load):
    hit = _cache.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    value = load()
    _cache[key] = (time.monotonic() + settings.catalog_cache_seconds, value)
    return value


def forget_cached():
    _cache.clear()


def default_policy():
    return domain.Policy(**settings.policy_defaults)


def sites():
    return _cached("sites", storage.list_sites)


def site(site_id):
    found = next((s for s in sites() if s.sk == site_id), None)
    if found is None:
        found = storage.get_site(site_id)  # created since the cache was filled
        if found is None:
            raise NotFound(f"Unknown site '{site_id}'.", code="site_not_found")
        forget_cached()
    return found


def procedure(site_id, procedure_id):
    found = site(site_id)
    if not any(p["procedure_id"] == procedure_id for p in found.procedures):
        raise NotFound(f"Unknown procedure '{procedure_id}' at site '{site_id}'.", code="procedure_not_found")
    return found


def policy(site_id, procedure_id):
    values = _cached(("policy", site_id, procedure_id), lambda: storage.get_policy_values(site_id, procedure_id))
    return domain.policy_with(default_policy(), values)


def update_policy(site_id, procedure_id, changes, now):
    procedure(site_id, procedure_id)
    merged = domain.policy_with(policy(site_id, procedure_id), changes)
    storage.put_policy_values(site_id, procedure_id, merged.as_dict(), now)
    forget_cached()
    return merged


def site_view(s, with_policies=True):
    return {
        "site_id": s.sk,
        "name": s.name,
        "address": s.address,
        "timezone": s.timezone,
        "procedures": [
            {
                "procedure_id": p["procedure_id"],
                "name": p["name"],
                **({"allocation": policy(s.sk, p["procedure_id"]).allocation} if with_policies else {}),
            }
            for p in s.procedures
        ],
    }


def create_site(site_id, name, address, timezone, procedures):
    created = storage.create_site_if_new(site_id or new_id("site"), name, address, timezone, procedures)
    forget_cached()
    return created


def publish_schedule(site_id, procedure_id, spec, now, rng=None):
    """Create the slots of an opening schedule; each becomes visible at now or at a random
    instant of the publication window (R5). Returns how many were created."""
    rng = rng or random.SystemRandom()
    found = procedure(site_id, procedure_id)
    times = domain.schedule_slot_times(
        found.timezone, spec["from"], spec["to"], spec["weekdays"], spec["opens"], spec["closes"],
        spec["slot_minutes"], spec["counters"],
    )
    times = [t for t in times if t[0].timestamp() > now]
    if len(times) > 5000:
        raise InvalidField("to", "A schedule may create at most 5000 slots at once; shorten the period.")
    rules = policy(site_id, procedure_id)
    instants = domain.publication_instants(now, len(times), rules, spec["publish"], rng)
    slots = [
        Slot(
            new_id("slot"),
            site_id=site_id,
            procedure_id=procedure_id,
            starts_at=utc_key(starts),
            ends_at=utc_key(ends),
            state=domain.OPEN,
            available_from=round(available_from, 3),
            search_pk=f"{site_id}#{procedure_id}",
            freed_count=0,
            created_at=now,
        )
        for (starts, ends, _counter), available_from in zip(times, instants)
    ]
    _reserve_partner_share(slots, found.timezone, rules, rng)
    return storage.create_slots_if_new(slots)


def _reserve_partner_share(slots, tz_name, rules, rng):
    """The partner share of each local day, chosen at random, reserved until the release lead time
    before its appointment (a uniform rule in the hold condition and the search filter, no job)."""
    by_day = {}
    for slot in slots:
        by_day.setdefault(domain.local_date(parse_instant(slot.starts_at), tz_name), []).append(slot.slot_id)
    reserved = oversight.reserved_slot_ids(by_day, rules.partner_share, rng)
    for slot in slots:
        if slot.slot_id in reserved:
            slot.reserved_until = round(oversight.reserved_until(epoch_of(slot.starts_at), rules), 3)
