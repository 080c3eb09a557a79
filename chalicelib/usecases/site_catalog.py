"""Sites, procedures, policies and opening schedules: what staff configure and everyone reads."""
import dataclasses
import random
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar

from chalicelib import storage
from chalicelib.platform import config
from chalicelib.platform.clock import epoch_of, parse_instant, to_rfc3339, utc_key
from chalicelib.platform.keys import identity_secret
from chalicelib.platform.tokens import new_id
from chalicelib.rules import lifecycle, oversight, policies, records, refusals, submitted
from chalicelib.rules.errors import InvalidValue
from chalicelib.usecases import View, audit_trail, draw_terms

T = TypeVar("T")
_cache: dict[Hashable, tuple[float, Any]] = {}  # key -> (expires_monotonic, value); sites and policies change rarely


def cached(key: Hashable, load: Callable[[], T], seconds: float | None = None) -> T:
    hit = _cache.get(key)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    value = load()
    _cache[key] = (time.monotonic() + (config.current().catalog_cache_seconds if seconds is None else seconds), value)
    return value


def forget_cached(key: Hashable | None = None) -> None:
    if key is None:
        _cache.clear()
    else:
        _cache.pop(key, None)


def default_policy(procedure_id: str | None = None) -> policies.Policy:
    """The configured defaults, with those configured for this procedure id (a renewal's documents)."""
    settings = config.current()
    return policies.Policy(**{**settings.policy_defaults, **settings.procedure_policy_defaults.get(procedure_id, {})})


def sites() -> list[records.Site]:
    return cached("sites", storage.list_sites)


def site(site_id: str) -> records.Site:
    found = next((s for s in sites() if s.site_id == site_id), None)
    if found is None:
        found = storage.get_site(site_id)  # created since the cache was filled
        if found is None:
            raise refusals.SITE_NOT_FOUND.exception()
        forget_cached()
    return found


def procedure(site_id: str, procedure_id: str) -> records.Site:
    found = site(site_id)
    if not any(p["procedure_id"] == procedure_id for p in found.procedures):
        raise refusals.PROCEDURE_NOT_FOUND.exception()
    return found


def policy(site_id: str, procedure_id: str) -> policies.Policy:
    values = cached(("policy", site_id, procedure_id), lambda: _stored_values(site_id, procedure_id))
    return policies.policy_with(default_policy(procedure_id), values)


def _stored_values(site_id: str, procedure_id: str) -> dict[str, Any]:
    stored = storage.get_policy(site_id, procedure_id)
    return stored.values if stored else {}


def update_policy(site_id: str, procedure_id: str, changes: Mapping[str, Any], now: float, staff_subject: str = "unknown",
                  client_ip: str | None = None) -> policies.Policy:
    """The policy with `changes` applied, audited with each changed field's old and new value.

    Read from storage, not the cache, and written only if still unchanged: the old values the
    audit entry shows are the ones actually replaced."""
    procedure(site_id, procedure_id)
    stored = storage.get_policy(site_id, procedure_id)
    old = policies.policy_with(default_policy(procedure_id), stored.values if stored else {})
    merged = policies.policy_with(old, changes)
    before, after = old.as_dict(), merged.as_dict()
    changed = {name: {"old": before[name], "new": after[name]} for name in after if before[name] != after[name]}
    if not changed and stored is not None:
        return merged  # nothing changes: no write, no audit entry
    entry = audit_trail.staff_change(audit_trail.policy_entity(site_id, procedure_id), "policy_changed", staff_subject, now, client_ip,
                               changes=changed)
    result = storage.replace_policy_if_unchanged(site_id, procedure_id, after, now, stored.updated_at if stored else None,
                                                 audit=[entry])
    if not result.ok:
        raise refusals.STATE_CHANGED.exception()
    forget_cached()
    _commit_next_draw(site_id, procedure_id, merged.allocation, now)
    return merged


def _commit_next_draw(site_id: str, procedure_id: str, allocation: str, now: float) -> None:
    """A draw-mode procedure has its next draw committed by the writer that makes it so (in auto
    the first standby request commits it: draw_requests.file_request)."""
    if allocation == policies.DRAW:
        #SPLIT:draws  # draws reads the catalog

        draw_terms.pending_draw(site_id, procedure_id, now)


def site_view(s: records.Site, with_policies: bool = True) -> View:
    return {
        "site_id": s.site_id,
        "name": s.name,
        **({"name_en": s.name_en} if s.name_en else {}),
        "address": s.address,
        "timezone": s.timezone,
        "procedures": [
            {
                "procedure_id": p["procedure_id"],
                "name": p["name"],
                **({"name_en": p["name_en"]} if p.get("name_en") else {}),
                **(_public_policy(policy(s.site_id, p["procedure_id"])) if with_policies else {}),
            }
            for p in s.procedures
        ],
    }


def _public_policy(rules: policies.Policy) -> View:
    """What an applicant needs before filling a form: how slots are allocated, which documents
    the procedure accepts (R1), whether identities are proven with a one-time code first (R10),
    and how long a cancellation or a hold let go keeps them from holding again (R4)."""
    return {"allocation": rules.allocation, "accepted_documents": list(rules.accepted_documents),
            "identity_check": rules.identity_check,
            "cooldown_seconds": int(rules.cooldown_seconds)}


def create_site(site_id: str | None, name: str, address: str, timezone: str, procedures: list[dict[str, Any]], now: float, staff_subject: str = "unknown",
                client_ip: str | None = None, name_en: str | None = None) -> records.Site:
    site_id = site_id or new_id("site")
    entry = audit_trail.staff_change(audit_trail.site_entity(site_id), "site_created", staff_subject, now, client_ip,
                               name=name, timezone=timezone, procedures=[p["procedure_id"] for p in procedures])
    created = records.Site(site_id=site_id, name=name, name_en=name_en, address=address, timezone=timezone, procedures=procedures)
    result = storage.create_site_if_new(created, audit=[entry])
    if not result.ok:
        raise refusals.SITE_EXISTS.exception()
    forget_cached()
    return created


def publish_schedule(site_id: str, procedure_id: str, spec: submitted.Schedule, now: float, rng: random.Random | None = None, staff_subject: str = "unknown",
                     client_ip: str | None = None) -> View:
    """Create the slots of an opening schedule (`spec`, a submitted.Schedule); each becomes visible at now or at a random
    instant of the publication window (R5). A slot is one counter's one opening: publishing
    again creates only the slots that do not exist yet (a retry after a 503, another counter),
    and never brings back a closed or booked one. Returns {"created", "existing"}; the site's
    audit trail gets one entry for the schedule, written before its slots."""
    rng = rng or random.SystemRandom()
    found = procedure(site_id, procedure_id)
    times = lifecycle.schedule_slot_times(
        found.timezone, spec.first_day, spec.last_day, spec.weekdays, spec.opens, spec.closes,
        spec.slot_minutes, spec.counters,
    )
    times = [t for t in times if t[0].timestamp() > now]
    if len(times) > 5000:
        raise InvalidValue("last_day", "A schedule may create at most 5000 slots at once; shorten the period.")
    rules = policy(site_id, procedure_id)
    instants = lifecycle.publication_instants(now, len(times), rules, spec.publish, rng)
    slots = [
        records.Slot(
            slot_id=lifecycle.slot_id(identity_secret(), site_id, procedure_id, utc_key(starts), counter),
            site_id=site_id,
            procedure_id=procedure_id,
            starts_at=utc_key(starts),
            ends_at=utc_key(ends),
            state=lifecycle.OPEN,
            available_from=round(available_from, 3),
            freed_count=0,
            created_at=now,
        )
        for (starts, ends, counter), available_from in zip(times, instants, strict=True)
    ]
    slots = _reserve_partner_share(slots, found.timezone, rules, rng)
    # The schedule's entry first: no slot exists without it.
    result = storage.write_entries([_schedule_entry(site_id, procedure_id, spec, slots, now, staff_subject, client_ip)])
    if not result.ok:
        raise refusals.STATE_CHANGED.exception()
    created = storage.create_slots_if_new(slots).value
    _commit_next_draw(site_id, procedure_id, rules.allocation, now)
    return {"created": created, "existing": len(slots) - created}


def _schedule_entry(site_id: str, procedure_id: str, spec: submitted.Schedule, slots: list[records.Slot], now: float, staff_subject: str,
                    client_ip: str | None) -> records.NewAuditEntry:
    """What the schedule describes: its period, how many slots from now on (some may exist
    already), how many reserved to partners, and the window in which they become visible."""
    visible = [s.available_from for s in slots]
    return audit_trail.staff_change(
        audit_trail.site_entity(site_id), "schedule_published", staff_subject, now, client_ip,
        procedure_id=procedure_id, period={"from": spec.first_day.isoformat(), "to": spec.last_day.isoformat()},
        publish=spec.publish, slots=len(slots), reserved=sum(1 for s in slots if s.reserved_until is not None),
        visible_from=to_rfc3339(min(visible)) if slots else None, visible_until=to_rfc3339(max(visible)) if slots else None,
    )


def _reserve_partner_share(slots: list[records.Slot], tz_name: str, rules: policies.Policy, rng: random.Random) -> list[records.Slot]:
    """The partner share of each local day, chosen at random, reserved until a random instant
    before the release lead time (a uniform rule in the hold condition and the search filter, no
    job); in auto or draw mode a released slot that a standby request covers goes to the draw.
    Returns the slots, those reserved with their reserved_until."""
    by_day: dict[str, list[str]] = {}
    for slot in slots:
        by_day.setdefault(lifecycle.local_date(parse_instant(slot.starts_at), tz_name), []).append(slot.slot_id)
    reserved = oversight.reserved_slot_ids(by_day, rules.partner_share, rng)
    return [dataclasses.replace(slot, reserved_until=round(oversight.reserved_until(epoch_of(slot.starts_at), rules, rng), 3))
            if slot.slot_id in reserved else slot for slot in slots]
