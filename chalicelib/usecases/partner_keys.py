"""Partner associations: their API keys (created, listed, revoked by staff), the key check behind
the partner authorizer, and the partner's own view of its bookings."""
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chalicelib import storage
from chalicelib.platform import config, gateway_keys
from chalicelib.platform.clock import to_rfc3339, utc_key
from chalicelib.platform.tokens import new_id, new_token, token_hash
from chalicelib.rules import records, refusals
from chalicelib.usecases import PartnerContext, View, audit_trail, site_catalog
from chalicelib.usecases.ownership import found_or_404

_key_cache: dict[str, tuple] = {}  # key hash -> (expires_monotonic, partner or None); off unless configured


def _view(p: records.Partner) -> View:
    return {
        "partner_id": p.partner_id,
        "name": p.name,
        "daily_quota": int(p.daily_quota),
        "sites": sorted(p.sites),
        "created_at": to_rfc3339(p.created_at),
        "status": "revoked" if p.revoked_at else "active",
        **({"revoked_at": to_rfc3339(p.revoked_at)} if p.revoked_at else {}),
    }


def create(name: str, daily_quota: int, sites: tuple[str, ...], now: float, staff_subject: str = "unknown", client_ip: str | None = None) -> View:
    """A new partner and its API key (256 random bits), shown once; only its SHA-256 is kept.
    The key acts only on `sites` (each must exist: 404 otherwise).

    Its usage-plan key is registered in API Gateway first: if that fails nothing is stored (503);
    if storing fails the registration is undone, so no partner half exists."""
    for site_id in sites:
        site_catalog.site(site_id)  # 404 site_not_found
    key = "fsk_" + new_token()
    partner_id = new_id("ptn")
    gateway_key_id = gateway_keys.register(partner_id, name)
    partner = records.Partner(partner_id=partner_id, name=name, daily_quota=daily_quota, key_hash=token_hash(key), created_at=now,
                      gateway_key_id=gateway_key_id, sites=frozenset(sites))
    entry = audit_trail.staff_change(partner_id, "partner_created", staff_subject, now, client_ip, daily_quota=daily_quota, sites=sorted(sites))
    try:
        result = storage.create_partner_if_new(partner, audit=[entry])
        if not result.ok:
            raise refusals.PARTNER_EXISTS.exception()
    except Exception:
        gateway_keys.unregister(gateway_key_id)
        raise
    return {"partner_id": partner.partner_id, "api_key": key, **{k: v for k, v in _view(partner).items() if k != "partner_id"}}


def history(partner_id: str) -> View:
    return audit_trail.history_view(partner_id)


def list_all() -> View:
    return {"partners": [_view(p) for p in storage.list_partners()]}


def revoke(partner_id: str, now: float, staff_subject: str = "unknown", client_ip: str | None = None) -> None:
    found = found_or_404(storage.get_partner, partner_id, refusals.PARTNER_NOT_FOUND)
    already = found.revoked_at is not None
    if not already:
        entry = audit_trail.staff_change(found.partner_id, "partner_revoked", staff_subject, now, client_ip)
        result = storage.revoke_partner_if_active(found, now, audit=[entry])
        if not result.ok:
            raise refusals.PARTNER_REVOKED.exception()
        _key_cache.clear()
    # Its usage-plan key goes too. Revoking again retries a cleanup that failed; a key left
    # behind is inert anyway (gateway_keys.unregister).
    gateway_keys.unregister(found.gateway_key_id)
    if already:
        raise refusals.PARTNER_REVOKED.exception()


def authenticate(api_key: object) -> records.PartnerKey | None:
    """The live partner behind an API key, or None: one GetItem on the key's hash.

    PARTNER_KEY_CACHE_SECONDS > 0 keeps lookups in this process for that long (a revoked key then
    works up to that long in other warm processes); the default 0 checks every request."""
    if not isinstance(api_key, str) or not 20 <= len(api_key) <= 100:
        return None
    digest = token_hash(api_key)
    ttl = config.current().partner_key_cache_seconds
    if ttl > 0:
        hit = _key_cache.get(digest)
        if hit and hit[0] > time.monotonic():
            return hit[1]
    found = storage.partner_by_key_hash(digest)
    if ttl > 0:
        if len(_key_cache) > 1000:
            _key_cache.clear()
        _key_cache[digest] = (time.monotonic() + ttl, found)
    return found


def forget_cached() -> None:
    _key_cache.clear()


def bookings(partner_id: str, now: float, limit: int, cursor: str | None = None) -> View:
    """One page of the partner's bookings from yesterday (UTC) on, booked or not, soonest first,
    and the cursor of the next page (None at the end)."""
    found, next_cursor = storage.bookings_of_partner(partner_id, utc_key_of(now - 86400), limit, cursor)
    return {
        "bookings": [
            {
                "booking_id": b.booking_id,
                "reference": b.reference,
                "status": b.status,
                "slot": {"slot_id": b.slot_id, "site_id": b.site_id, "procedure_id": b.procedure_id,
                         "starts_at": b.starts_at, "ends_at": b.ends_at},
                "applicant": {"family_name": b.applicant.family_name, "given_names": b.applicant.given_names},
            }
            for b in found
        ],
        "next_cursor": next_cursor,
    }


def utc_key_of(epoch: float) -> str:
    return utc_key(datetime.fromtimestamp(epoch, UTC))


def quota_of(context: Mapping[str, Any]) -> PartnerContext:
    """The partner the authorizer let through, from its context: {"partner_id", "daily_quota",
    "sites"} (the authorizer's context holds strings only: the sites are joined by spaces)."""
    try:
        return {"partner_id": context["partner_id"], "daily_quota": int(context["daily_quota"]),
                "sites": frozenset(str(context.get("sites") or "").split())}
    except (KeyError, TypeError, ValueError) as exc:
        raise refusals.PARTNER_KEY_REQUIRED.exception() from exc


def authorizer_context(found: records.PartnerKey) -> dict[str, str]:
    """What the partner authorizer hands the routes (strings only), read back by quota_of."""
    return {"partner_id": found.partner_id, "daily_quota": str(int(found.daily_quota)), "sites": " ".join(sorted(found.sites))}


def check_site(partner: PartnerContext, site_id: str) -> None:
    """R11: a partner's key acts only on the sites it was created for (403 forbidden_site)."""
    if site_id not in partner["sites"]:
        raise refusals.FORBIDDEN_SITE.exception()

