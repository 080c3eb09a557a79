"""Use cases of the booking core: search, hold, release, confirm, read and cancel. Each reads at
most one item, asks the rules, and makes one conditional write or one transaction through
chalicelib/storage; when it does not happen, rules/refusals.py says what the caller is told."""
import hmac
import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TypedDict

from chalicelib import storage
from chalicelib.platform import config, keys
from chalicelib.platform.clock import epoch_of, parse_instant, to_rfc3339, utc_key
from chalicelib.platform.observability import metric
from chalicelib.platform.tokens import (
    booking_token,
    new_id,
    new_reference,
    new_token,
    token_hash,
)
from chalicelib.rules import identity_keys, lifecycle, oversight, policies, records, refusals, submitted
from chalicelib.rules.errors import FairslotError, InvalidValue
from chalicelib.rules.identity_keys import Document
from chalicelib.rules.policies import Policy
from chalicelib.rules.proofs import ProofCheck
from chalicelib.usecases import PartnerContext, View, audit_trail, fraud_signals, ownership, site_catalog, standby, verification


class HoldLimits(TypedDict):
    """R8 for one hold: the client IP's hourly limit, or a partner's daily quota instead."""
    ip_limit: lifecycle.IpLimit | None
    partner_quota: oversight.PartnerQuota | None

_rng = random.SystemRandom()


def slot_view(item: records.Slot) -> View:
    return {
        "slot_id": item.slot_id,
        "site_id": item.site_id,
        "procedure_id": item.procedure_id,
        "starts_at": item.starts_at,
        "ends_at": item.ends_at,
    }


def _purge_at(starts_at: str) -> int:
    return int(epoch_of(starts_at) + config.current().personal_data_retention_days * 86400)


# --- search ---------------------------------------------------------------------------------

def search(site_id: str, procedure_id: str, start: datetime, end: datetime, limit: int, cursor: str | None, now: float, partner: bool = False) -> View:
    """Holdable slots; a partner's search also shows the share reserved to partners."""
    site_catalog.procedure(site_id, procedure_id)
    if end <= start:
        raise InvalidValue("window_end", "{window_end} must be after {window_start}.")
    policy = site_catalog.policy(site_id, procedure_id)
    if not lifecycle.searchable(policy):
        return {"slots": [], "next_cursor": None}  # allocated by draw: file a request
    floor = max(start.timestamp(), now)
    slots, next_cursor = storage.search_holdable_slots(
        site_id, procedure_id, to_rfc3339(floor), utc_key(end), limit, cursor, now, include_reserved=partner,
        keep=_not_the_next_draws(site_id, procedure_id, policy),
    )
    found: View = {"slots": [slot_view(s) for s in slots], "next_cursor": next_cursor}
    if policy.allocation == policies.AUTO and not slots and next_cursor is None:
        found["standby"] = standby_offer(policy)
    return found


def _not_the_next_draws(site_id: str, procedure_id: str, policy: Policy) -> Callable[[records.Slot], bool]:
    """Which slots search may show: a free slot on a day a standby request covers belongs to the
    next draw, never to search (auto). Applied while the page is filled, so it hides nothing."""
    if policy.allocation != policies.AUTO or not standby.standby_ranges(site_id, procedure_id):
        return lambda _: True
    tz = site_catalog.site(site_id).timezone
    return lambda s: not standby.standby_covers(site_id, procedure_id, policy, standby.local_day(s.starts_at, tz))


def standby_offer(policy: Policy) -> View:
    """What an applicant who finds nothing in auto allocation can do: join the standby list."""
    return {"request": "POST /requests", "draw_interval_seconds": policy.draw_interval_seconds}


def default_search_window(start: datetime) -> datetime:
    return start + timedelta(days=31)


# --- holds ----------------------------------------------------------------------------------

def hold(slot_id: str, applicant: submitted.Applicant, client_ip: str | None, now: float, partner: PartnerContext | None = None,
         identity_token: str | None = None) -> View:
    """A hold for `applicant` (submitted.Applicant, as parsed); `partner` ({"partner_id", "daily_quota"})
    when a partner holds for a beneficiary; `identity_token` where the procedure checks identities (R10):
    the hold binds the proven identity's lock key (verification.proof_needed). A public attempt
    refused for any reason but the network's own limit counts against that limit too (R8): no
    answer is a free probe."""
    try:
        return _hold(slot_id, applicant, client_ip, now, partner, identity_token)
    except FairslotError as refused:
        if partner is None and refused.status < 500 and refused.code != "rate_limited":
            storage.count_refused_hold(client_ip or "unknown", lifecycle.hour_window(now))
        raise


def _hold(slot_id: str, applicant: submitted.Applicant, client_ip: str | None, now: float, partner: PartnerContext | None,
          identity_token: str | None) -> View:
    slot, policy = _slot_to_hold(slot_id, applicant)
    if partner and slot.site_id not in partner["sites"]:
        raise refusals.FORBIDDEN_SITE.exception()  # R11: the key acts only on its sites
    expires_at, available_after = lifecycle.hold_terms(now, epoch_of(slot.starts_at), policy, _rng)
    identity, proof, registry_contact = verification.proof_needed(policy, slot.procedure_id, applicant, identity_token, partner is not None)
    token = new_token()
    item = _new_hold(slot, applicant, identity, token_hash(token), round(expires_at, 3), client_ip, now, partner)
    actor = audit_trail.partner(partner["partner_id"]) if partner else audit_trail.identity(identity)
    audit = [
        audit_trail.entry(slot.slot_id, "hold_taken", actor, now, slot.starts_at, client_ip, hold_id=item.hold_id),
        audit_trail.entry(item.hold_id, "hold_taken", actor, now, slot.starts_at, client_ip, slot_id=slot.slot_id),
    ]
    # A partner holds for its beneficiaries from its own servers (bounded by its quota): its IP
    # is no sign of fake identities, as for its draw requests.
    signals = fraud_signals.hold_signals(now, None if partner else client_ip, identity, applicant.email,
                                         person=verification.person_under_documents(policy, slot.procedure_id, applicant))
    if partner:
        signals += fraud_signals.partner_activity(now, partner["partner_id"], identity)
    signals += fraud_signals.lapsed_partner_hold(now, slot)
    _take(slot, item, now, round(available_after, 3), round(lifecycle.cooldown_until(expires_at, policy), 3),
          _hold_limits(client_ip, policy, partner, now), audit, signals, proof)
    metric("HoldCreated", site=slot.site_id)
    if partner:
        verification.tell_registry_contact(registry_contact, partner["partner_id"], slot.site_id, now)
    return {
        "hold_id": item.hold_id,
        "hold_token": token,
        "expires_at": to_rfc3339(item.expires_at),
        "slot": slot_view(slot),
    }


def _slot_to_hold(slot_id: str, applicant: submitted.Applicant) -> tuple[records.Slot, Policy]:
    """The slot and its procedure's policy, if this applicant may try to hold it (404, 403, 422, 409)."""
    slot = ownership.found_or_404(storage.get_slot, slot_id, refusals.SLOT_NOT_FOUND)
    policy = site_catalog.policy(slot.site_id, slot.procedure_id)
    if not lifecycle.searchable(policy):
        raise refusals.DRAW_ONLY.exception()
    identity_keys.check_accepted_document(applicant.document.type, policy)
    if standby.standby_covers(slot.site_id, slot.procedure_id, policy, standby.local_day(slot.starts_at, site_catalog.site(slot.site_id).timezone)):
        metric("SlotConflicts", site=slot.site_id)
        raise refusals.SLOT_UNAVAILABLE.exception()  # the next draw's
    return slot, policy


def _new_hold(slot: records.Slot, applicant: submitted.Applicant, identity: str, token_digest: str, expires_at: float, client_ip: str | None, now: float,
              partner: PartnerContext | None) -> records.Hold:
    return records.Hold(
        hold_id=new_id("hold"),
        token_hash=token_digest,
        slot_id=slot.slot_id,
        site_id=slot.site_id,
        procedure_id=slot.procedure_id,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        identity_key=identity,
        applicant=applicant.kept(),
        expires_at=expires_at,
        status="active",
        client_ip=client_ip,
        created_at=now,
        purge_at=_purge_at(slot.starts_at),
        partner_id=partner["partner_id"] if partner else None,
    )


def _hold_limits(client_ip: str | None, policy: Policy, partner: PartnerContext | None, now: float) -> HoldLimits:
    """R8: the client IP's hourly limit, or for a partner its daily quota instead."""
    if partner:
        return {"ip_limit": None,
                "partner_quota": oversight.PartnerQuota(partner_id=partner["partner_id"], window=oversight.day_window(now),
                                                        max=partner["daily_quota"])}
    return {"ip_limit": lifecycle.IpLimit(ip=client_ip or "unknown", window=lifecycle.hour_window(now), max=policy.max_holds_per_ip_per_hour),
            "partner_quota": None}


def _take(slot: records.Slot, item: records.Hold, now: float, available_from_after: float, lapse_until: float, limits: HoldLimits,
          audit: list[records.NewAuditEntry], signals: list[records.NewSignal], proof: ProofCheck | None = None) -> None:
    """The hold's transaction; refused, the answer refusals.hold_refusal chooses (counted), an
    identity token that does not prove the identity first (R10)."""
    try:
        result = storage.hold_slot_if_available(slot, item, now, available_from_after=available_from_after,
                                                lapse_until=lapse_until, audit=audit, signals=signals, proof=proof, **limits)
    except Exception:
        metric("HoldRefused", site=slot.site_id)
        raise
    if result.ok:
        return
    unproven = refusals.unproven(result)
    if unproven is not None:
        metric("IdentityUnverified", site=slot.site_id)
        raise unproven.exception()
    ip_limit, quota = limits["ip_limit"], limits["partner_quota"]
    refusal = refusals.hold_refusal(result, now, ip_window_end=ip_limit["window"][1] if ip_limit else None,
                                    quota_window_end=quota["window"][1] if quota else None)
    if refusal.code == "cooldown":
        fraud_signals.cooldown_refused(now, slot.site_id)
    metric({"cooldown": "CooldownRefusals", "rate_limited": "HoldsPerIpLimited",
            "slot_unavailable": "SlotConflicts"}.get(refusal.code, "HoldRefused"), site=slot.site_id)
    raise refusal.exception()


def _hold_for(hold_id: str, token: str | None) -> records.Hold:
    return ownership.bearer_owned(storage.get_hold, hold_id, token, "hold")


def _actor(hold_or_booking: records.Hold | records.Booking) -> str:
    if hold_or_booking.partner_id:
        return audit_trail.partner(hold_or_booking.partner_id)
    return audit_trail.identity(hold_or_booking.identity_key)


def release(hold_id: str, token: str | None, now: float, client_ip: str | None = None) -> None:
    found = _hold_for(hold_id, token)
    actor = _actor(found)
    result = storage.release_hold_if_active(
        found,
        now,
        **standby.freed_terms(found, now),
        audit=[audit_trail.entry(found.slot_id, "hold_released", actor, now, found.starts_at, client_ip, hold_id=found.hold_id),
               audit_trail.entry(found.hold_id, "hold_released", actor, now, found.starts_at, client_ip)],
    )
    if not result.ok:
        raise refusals.hold_not_active(found.status, found.expires_at, now).exception()
    metric("HoldReleased", site=found.site_id)
    metric("HoldsAbandoned", site=found.site_id)
    metric("QuarantineStarted", site=found.site_id)


# --- bookings -------------------------------------------------------------------------------

def _booking_view(booking_id: str | None, reference: str | None, status: str, hold_or_booking: records.Hold | records.Booking,
                  token: str | None = None) -> View:
    view = {
        "booking_id": booking_id,
        "reference": reference,
        "status": status,
        "slot": {
            "slot_id": hold_or_booking.slot_id,
            "site_id": hold_or_booking.site_id,
            "procedure_id": hold_or_booking.procedure_id,
            "starts_at": hold_or_booking.starts_at,
            "ends_at": hold_or_booking.ends_at,
        },
        "applicant": {
            "family_name": hold_or_booking.applicant.family_name,
            "given_names": hold_or_booking.applicant.given_names,
            # The document to bring (its type only): a convocation opened on another device says it.
            "document_type": hold_or_booking.applicant.document_type,
        },
    }
    if token is not None:
        view["booking_token"] = token
    return view


def confirm(hold_id: str, hold_token: str, now: float, partner_id: str | None = None, client_ip: str | None = None) -> tuple[View, bool]:
    """Confirm a hold; confirming the same hold again returns the same booking (and token).
    A partner confirms only its own holds; a partner's hold stays attributed to it."""
    found = _hold_for(hold_id, hold_token)
    if partner_id is not None and found.partner_id != partner_id:
        raise refusals.NOT_THIS_PARTNER.exception()
    partner_id = partner_id or found.partner_id
    token = booking_token(hold_token)
    if found.status == "confirmed":
        return _booking_view(found.booking_id, found.reference, "booked", found, token), False
    booking = records.Booking(
        booking_id=new_id("bkg"),
        token_hash=token_hash(token),
        reference=new_reference(),
        hold_id=found.hold_id,
        slot_id=found.slot_id,
        site_id=found.site_id,
        procedure_id=found.procedure_id,
        starts_at=found.starts_at,
        ends_at=found.ends_at,
        day=lifecycle.local_date(parse_instant(found.starts_at), site_catalog.site(found.site_id).timezone),
        identity_key=found.identity_key,
        applicant=found.applicant,
        status="booked",
        partner_id=partner_id,
        created_at=now,
        purge_at=found.purge_at,
        tier=found.tier,
        permit_expires_on=found.permit_expires_on,
        draw_day=found.draw_day,
    )
    actor = _actor(booking)
    audit = [
        audit_trail.entry(found.hold_id, "hold_confirmed", actor, now, found.starts_at, client_ip, booking_id=booking.booking_id),
        audit_trail.entry(booking.booking_id, "booked", actor, now, found.starts_at, client_ip,
                    slot_id=found.slot_id, hold_id=found.hold_id, reference=booking.reference),
        audit_trail.entry(found.slot_id, "booked", actor, now, found.starts_at, client_ip, booking_id=booking.booking_id),
    ]
    result = storage.confirm_hold_as_booking(found, booking, now, audit=audit,
                                             signals=fraud_signals.partner_signals(now, partner_id, booked=1))
    if not result.ok:
        refusal = refusals.confirm_refusal(result, found, now, epoch_of(found.starts_at))
        if refusal is not None:
            raise refusal.exception()
        again = storage.get_hold(hold_id)  # confirmed by a concurrent identical request
        assert again is not None, "a hold confirmed meanwhile is still there"
        return _booking_view(again.booking_id, again.reference, "booked", again, token), False
    metric("BookingConfirmed", site=found.site_id)
    return _booking_view(booking.booking_id, booking.reference, "booked", booking, token), True


def _booking_for(booking_id: str, token: str | None) -> records.Booking:
    return ownership.bearer_owned(storage.get_booking, booking_id, token, "booking")


def get_booking(booking_id: str, token: str | None) -> View:
    found = _booking_for(booking_id, token)
    return _booking_view(found.booking_id, found.reference, found.status, found)


def _booking_of_partner(booking_id: str, partner_id: str) -> records.Booking:
    """A partner reaches its own bookings without their tokens, and nobody else's (404 alike)."""
    found = ownership.found_or_404(storage.get_booking, booking_id, refusals.BOOKING_NOT_FOUND)
    if found.partner_id != partner_id:
        raise refusals.BOOKING_NOT_FOUND.exception()
    return found


def cancel(booking_id: str, token: str | None, now: float, partner_id: str | None = None, client_ip: str | None = None) -> None:
    found = _booking_of_partner(booking_id, partner_id) if partner_id else _booking_for(booking_id, token)
    actor = _actor(found)
    result = storage.cancel_booking_if_booked(
        found,
        now,
        **standby.freed_terms(found, now),
        audit=[audit_trail.entry(found.booking_id, "cancelled", actor, now, found.starts_at, client_ip),
               audit_trail.entry(found.slot_id, "cancelled", actor, now, found.starts_at, client_ip, booking_id=found.booking_id)],
        signals=fraud_signals.partner_signals(now, found.partner_id, cancelled=1),
    )
    if not result.ok:
        raise refusals.BOOKING_NOT_ACTIVE.exception()
    metric("BookingCancelled", site=found.site_id)
    metric("QuarantineStarted", site=found.site_id)


# --- "find my booking" (DEVELOPERS.md, "Links in e-mails, find my booking, offers by e-mail") ---

def send_link_again(document: Document, birth_date: date, email: str, client_ip: str | None, now: float,
                    identity_token: str | None = None) -> None:
    """If the identity has a live booking whose e-mail is this one, its link is sent again to that
    e-mail (through the bookings stream), at most once every LOOKUP_LINK_INTERVAL_SECONDS. The
    caller learns nothing either way: the same answer and the same DynamoDB calls whether a
    booking exists, the e-mail matches or not (DEVELOPERS.md, "No oracle"). Tries are counted per
    client IP before anything is read (R8); there is no limit per identity for a stranger to use up.
    The identity is the one an identity token proved (R10, 403 if it proves another); without one,
    only bookings of procedures that prove nothing are looked for."""
    identity = verification.lookup_key(identity_keys.identity_key_of(keys.signing(keys.IDENTITIES), document, birth_date), email,
                                       identity_token, now)
    ip_window = lifecycle.hour_window(now)
    result = storage.count_lookup(lifecycle.IpLimit(ip=client_ip or "unknown", window=ip_window,
                                                    max=config.current().lookup_max_per_ip_per_hour))
    if not result.ok:
        raise refusals.lookup_refusal(now, ip_window[1]).exception()
    interval = config.current().lookup_link_interval_seconds
    matching = [found for found in storage.live_bookings_of(identity, now)
                if hmac.compare_digest(found.applicant.email.lower().encode(), email.lower().encode())
                and (found.link_requested_at is None or found.link_requested_at <= now - interval)]
    # Always one transaction: refused, a booking ended or its link was asked for meanwhile.
    if storage.request_links_if_unchanged(matching, now).ok:
        for found in matching:
            metric("BookingLinkSent", site=found.site_id)


def day_list(site_id: str, day: date) -> View:
    site_catalog.site(site_id)
    return {
        "bookings": [
            {
                "booking_id": b.booking_id,
                "slot_id": b.slot_id,
                "procedure_id": b.procedure_id,
                "starts_at": b.starts_at,
                "reference": b.reference,
                "status": b.status,
                "family_name": b.applicant.family_name,
                "given_names": b.applicant.given_names,
                # Won in a draw: the tier and the permit expiry declared, to check at the counter (R7).
                "tier": int(b.tier) if b.tier is not None else None,
                "permit_expires_on": b.permit_expires_on,
                **({"partner_id": b.partner_id} if b.partner_id else {}),
                # Cancelled too close to the start to be re-offered online: the counter has it.
                **({"slot_state": lifecycle.FREED_LATE} if b.freed_late else {}),
            }
            for b in storage.bookings_of_day(site_id, day.isoformat())
        ]
    }
