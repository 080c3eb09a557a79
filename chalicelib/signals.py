"""R9 fraud signals: counted in the transactions that cause them, read by staff day by day."""
from datetime import timedelta

from chalicelib import oversight, storage_staff
from chalicelib.observability import logger, metric


def hold_items(now, client_ip, identity_key, email):
    """Signal counters a hold's transaction carries: identities behind its IP, disposable mail."""
    items = []
    if client_ip:
        items.append(storage_staff.signal_identity_behind_ip(now, client_ip, oversight.identity_short(identity_key)))
    if email and oversight.is_disposable(email):
        metric("DisposableEmailDomains")
        items.append(storage_staff.signal_disposable_email(now, oversight.email_domain(email)))
    return items


def partner_items(now, partner_id, booked=0, cancelled=0):
    return [storage_staff.signal_partner(now, partner_id, booked, cancelled)] if partner_id else []


def cooldown_refused(now, site_id):
    """Counted after the refusal; a failure to count never changes the caller's answer."""
    try:
        storage_staff.record_cooldown_refusal(now, site_id)
    except Exception:  # noqa: BLE001 -- a lost signal is better than a 503 for the applicant
        logger().warning("cooldown signal not recorded")


def review(last_day, days):
    """The signals of `days` UTC days ending on `last_day`: one Query per day."""
    items = []
    for offset in range(days):
        day = (last_day - timedelta(days=offset)).isoformat()
        for s in storage_staff.signals_of_day(day):
            kind, _, subject = s.at.partition("#")
            items.append({"kind": s.kind or kind, "subject": subject, "n": int(s.n or 0),
                          "identities": s.identities or set(), "booked": int(s.booked or 0),
                          "cancelled": int(s.cancelled or 0), "details": s.details})
    summary = oversight.summarize_signals(items)
    return {"from": (last_day - timedelta(days=days - 1)).isoformat(), "to": last_day.isoformat(), "signals": summary}


def today(now):
    from datetime import datetime, timezone

    return datetime.fromtimestamp(now, timezone.utc).date()

