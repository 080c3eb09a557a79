"""R9 fraud signals: counted in the transactions that cause them, read by staff day by day."""
from datetime import timedelta

from chalicelib import storage
from chalicelib.platform.observability import logger, metric
from chalicelib.rules import oversight


def _behind_ip(now, client_ip, identity_key, request=False):
    if not client_ip:
        return []
    return [storage.signal_identity_behind_ip(now, client_ip, oversight.identity_short(identity_key), request)]


def hold_items(now, client_ip, identity_key, email, request=False):
    """Signal counters a hold's (or a draw request's) transaction carries: its identity behind
    its IP, and a throw-away e-mail domain; holds and requests are counted apart."""
    items = _behind_ip(now, client_ip, identity_key, request)
    if email and oversight.is_disposable(email):
        metric("DisposableEmailDomains")
        items.append(storage.signal_disposable_email(now, oversight.email_domain(email), request))
    return items


def request_items(now, client_ip, identity_key, email):
    """The signals of a draw request, as for holds: fake applicants filing requests from one
    network, or with throw-away addresses, show up too."""
    return hold_items(now, client_ip, identity_key, email, request=True)


def partner_items(now, partner_id, booked=0, cancelled=0):
    return [storage.signal_partner(now, partner_id, booked, cancelled)] if partner_id else []


def cooldown_refused(now, site_id):
    """Counted after the refusal; a failure to count never changes the caller's answer."""
    try:
        storage.record_cooldown_refusal(now, site_id)
    except Exception:  # noqa: BLE001 -- a lost signal is better than a 503 for the applicant
        logger().warning("cooldown signal not recorded")


def _items_of_day(day):
    """The counters of one UTC day as oversight's pure functions take them: one Query per shard."""
    items = []
    for s in storage.signals_of_day(day.isoformat()):
        kind, _, subject = s.at.partition("#")
        items.append(oversight.SignalCounter(kind=s.kind or kind, subject=subject, n=int(s.n or 0), requests=int(s.requests or 0),
                                             identities=s.identities or set(), booked=int(s.booked or 0),
                                             cancelled=int(s.cancelled or 0), details=s.details))
    return items


def review(last_day, days):
    """The signals of `days` UTC days ending on `last_day` (storage.signals_of_day)."""
    items = []
    for offset in range(days):
        items += _items_of_day(last_day - timedelta(days=offset))
    summary = oversight.summarize_signals(items)
    return {"from": (last_day - timedelta(days=days - 1)).isoformat(), "to": last_day.isoformat(), "signals": summary}


def publish_metrics(now):
    """Today's "many identities behind one IP" (R9) as metrics, for its alarm. A transaction
    cannot return the count and a hold must not pay an extra read for it, so a schedule reads
    the day's counters (a few Queries) and publishes what staff would see now."""
    most, many = oversight.many_identities_per_ip(_items_of_day(today(now)))
    metric("IdentitiesPerIpMax", most)
    metric("IpsWithManyIdentities", many)
    return {"identities_per_ip_max": most, "ips_with_many_identities": many}


def today(now):
    from chalicelib.platform.clock import utc_date

    return utc_date(now)

