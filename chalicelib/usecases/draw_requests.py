"""Requests (SPEC R6): filing, reading and withdrawing an identity's request for a draw or standby."""
import hashlib
import hmac
import random
from datetime import date, timedelta

from chalicelib import storage
from chalicelib.platform import clock, config, keys
from chalicelib.platform.clock import parse_instant, to_rfc3339, utc_key
from chalicelib.platform.observability import logger, metric
from chalicelib.platform.tokens import new_id, new_token, token_hash
from chalicelib.rules import identity_keys, lifecycle, links, lottery, oversight, policies, records, refusals, submitted
from chalicelib.rules.errors import InvalidValue
from chalicelib.rules.policies import Policy
from chalicelib.rules.proofs import ProofCheck
from chalicelib.usecases import PartnerContext, View, draw_terms, fraud_signals, notify, ownership, site_catalog, standby, verification

_rng = random.SystemRandom()


def file_request(filed: submitted.DrawRequest, now: float, partner: PartnerContext | None = None, client_ip: str | None = None) -> View:
    """The request `filed` (a submitted.DrawRequest, as parsed) for its applicant; `partner`
    ({"partner_id", "daily_quota"}) when a partner files it for a beneficiary."""
    partner_id = partner["partner_id"] if partner else None
    site_id, procedure_id, applicant = filed.site_id, filed.procedure_id, filed.applicant
    first_day, last_day = filed.first_day, filed.last_day
    found = site_catalog.procedure(site_id, procedure_id)
    policy = site_catalog.policy(site_id, procedure_id)
    if not lifecycle.standby_allowed(policy):
        raise refusals.NOT_DRAW.exception()
    identity_keys.check_accepted_document(applicant.document.type, policy)
    today = clock.utc_date(now)
    _check_days(first_day, last_day, today)
    if partner is None:  # counted before anything is read: a refused attempt costs as a filed one
        _count_attempt(_request_ip_limit(client_ip, policy, now), now)
    if policy.allocation == policies.AUTO:
        _refuse_standby_while_holdable(found, procedure_id, policy, max(first_day, today), last_day, now)
    identity, proof, registry_contact = verification.proof_needed(policy, procedure_id, applicant, filed.identity_token,
                                                                  partner_id is not None)
    token = new_token()
    ends = parse_instant((last_day + timedelta(days=1)).isoformat()).timestamp()
    request = _new_request(site_id, procedure_id, identity, token_hash(token), applicant, max(first_day, today), last_day,
                           filed.permit_expires_on, partner_id, now, ends)
    quota = oversight.PartnerQuota(partner_id=partner["partner_id"], window=oversight.day_window(now), max=partner["daily_quota"]) if partner else None
    signals = fraud_signals.request_signals(now, client_ip, identity, applicant.email,
                                            person=verification.person_under_documents(policy, procedure_id, applicant))
    if partner:
        urgent = lottery.request_tier(filed.permit_expires_on, today) == 1  # the first tier
        signals += fraud_signals.partner_activity(now, partner["partner_id"], identity, request=True, urgent=urgent)
    _file(request, ends, now, quota, signals, proof)
    if partner_id:
        verification.tell_registry_contact(registry_contact, partner_id, site_id, now)
    standby.forget_standby(site_id, procedure_id)
    if policy.allocation == policies.AUTO:
        draw_terms.pending_draw(site_id, procedure_id, now)  # the next draw's seed is committed before it has entrants
    metric("RequestFiled", site=site_id)
    _acknowledge(request, now)
    return {"request_id": request.request_id, "request_token": token, "status": "waiting"}


def _request_ip_limit(client_ip: str | None, policy: Policy, now: float) -> lifecycle.IpLimit:
    """Per-IP cap as for holds (R8); a partner's requests are bounded by its key instead."""
    return lifecycle.IpLimit(ip=client_ip or "unknown", window=lifecycle.hour_window(now), max=policy.max_holds_per_ip_per_hour)


def _acknowledge(request: records.Request, now: float) -> None:
    """The acknowledgement, at most one a day per address: requests filed in someone's name with
    their address (by a partner or anyone) cannot flood their mailbox. A courtesy: the request
    stands whatever e-mail (or the daily count) does."""
    email = request.applicant.email
    digest = hmac.new(keys.signing(keys.IDENTITIES).encode(), b"acknowledgement|" + email.encode(), hashlib.sha256).hexdigest()[:32]
    try:
        if not storage.first_acknowledgement_today(digest, oversight.day_window(now)).ok:
            metric("AcknowledgementsSkipped")
            return
        notify.request_filed(email, request.site_id, request.request_id, request.first_day, request.last_day)
    except Exception:  # noqa: BLE001 -- counted, never the applicant's error
        metric("NotificationFailed")
        logger().warning("request acknowledgement not sent", extra={"request_id": request.request_id})


def _check_days(first_day: date, last_day: date, today: date) -> None:
    if last_day < first_day:
        raise InvalidValue("last_day", "{last_day} must be on or after {first_day}.")
    if last_day < today or (last_day - today).days > 366:
        raise InvalidValue("last_day", "{last_day} must be within the next year.")


def _count_attempt(ip_limit: lifecycle.IpLimit, now: float) -> None:
    result = storage.count_request_attempt(ip_limit)
    if not result.ok:
        raise refusals.request_refusal(result, now, ip_limit["window"][1]).exception()


def _file(request: records.Request, ends: float, now: float, quota: oversight.PartnerQuota | None, signals: list[records.NewSignal],
          proof: ProofCheck | None) -> None:
    result = storage.file_request_if_allowed(request, ends, now, quota, signals=signals, proof=proof)
    unproven = None if result.ok else refusals.unproven(result)
    if unproven is not None:
        raise unproven.exception()
    if not result.ok:
        raise refusals.request_refusal(result, now, quota_window_end=quota["window"][1] if quota else None).exception()


def _new_request(site_id: str, procedure_id: str, identity: str, token_digest: str, applicant: submitted.Applicant, first_day: date,
                 last_day: date, permit_expires_on: date | None, partner_id: str | None, now: float, ends: float) -> records.Request:
    return records.Request(
        request_id=new_id("req"),
        token_hash=token_digest,
        site_id=site_id,
        procedure_id=procedure_id,
        identity_key=identity,
        applicant=applicant.kept(),
        first_day=first_day.isoformat(),
        last_day=last_day.isoformat(),
        permit_expires_on=permit_expires_on.isoformat() if permit_expires_on else None,
        status="waiting",
        partner_id=partner_id,
        created_at=now,
        purge_at=int(ends + config.current().personal_data_retention_days * 86400),
    )


def _refuse_standby_while_holdable(site: records.Site, procedure_id: str, policy: Policy, first_day: date, last_day: date, now: float) -> None:
    """auto: a standby request is for an applicant whose search found nothing (409 otherwise).
    A free slot on a day another request covers is not holdable: it waits for the draw."""
    low = utc_key(parse_instant((first_day - timedelta(days=1)).isoformat()))
    high = utc_key(parse_instant((last_day + timedelta(days=2)).isoformat()))

    def usable(slot: records.Slot) -> bool:
        day = lifecycle.local_date(parse_instant(slot.starts_at), site.timezone)
        return first_day.isoformat() <= day <= last_day.isoformat() and not standby.standby_covers(site.site_id, procedure_id, policy, day)

    if storage.any_holdable_slot(site.site_id, procedure_id, max(low, to_rfc3339(now)), high, now, usable):
        raise refusals.SLOTS_AVAILABLE.exception()


def _request_for(request_id: str, token: str | None) -> records.Request:
    return ownership.bearer_owned(storage.get_request, request_id, token, "request")


def request_status(found: records.Request, now: float) -> str:
    if found.status in ("offered", "waiting") and links.request_live_until(found.status, found.offer_expires_at, found.last_day) <= now:
        return "expired"
    return found.status


def request_view(request_id: str, token: str | None, now: float) -> View:
    found = _request_for(request_id, token)
    status = request_status(found, now)
    view: View = {
        "request_id": found.request_id,
        "status": status,
        "site_id": found.site_id,
        "procedure_id": found.procedure_id,
        "from": found.first_day,
        "to": found.last_day,
        "permit_expires_on": found.permit_expires_on,
    }
    if status == "offered":
        assert found.hold_id is not None, "an offered request names its hold"
        hold = storage.get_hold(found.hold_id)
        assert hold is not None, "an offered request's hold is kept while it is offered"
        view["hold"] = {
            "hold_id": hold.hold_id,
            "hold_token": draw_terms.offer_token_of(hold),
            "expires_at": to_rfc3339(hold.expires_at),
            "slot": {"slot_id": hold.slot_id, "site_id": hold.site_id, "procedure_id": hold.procedure_id,
                     "starts_at": hold.starts_at, "ends_at": hold.ends_at},
        }
    if status == "booked":
        view["booking_id"] = found.booking_id
    return view


def withdraw(request_id: str, token: str | None, now: float) -> None:
    found = _request_for(request_id, token)
    status = request_status(found, now)
    if status == "offered":
        assert found.hold_id is not None, "an offered request names its hold"
        offer = storage.get_hold(found.hold_id)
        assert offer is not None, "an offered request's hold is kept while it is offered"
        result = storage.withdraw_request_if_live(found, now, offer, **standby.freed_terms(offer, now))
        if not result.ok:
            raise refusals.REQUEST_NOT_LIVE.exception()
        metric("HoldsAbandoned", site=found.site_id)
    elif status == "waiting":
        result = storage.withdraw_request_if_live(found, now)
        if not result.ok:
            raise refusals.REQUEST_NOT_LIVE.exception()
        standby.forget_standby(found.site_id, found.procedure_id)
        standby.release_after_coverage(found, now)
    else:
        raise refusals.REQUEST_NOT_LIVE.exception()
