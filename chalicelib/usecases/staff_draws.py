"""A draw run from the staff API (SPEC R6): never sooner than the procedure's interval unless an admin says why, always audited."""
from chalicelib import storage
from chalicelib.rules import lifecycle, lottery, records, refusals
from chalicelib.usecases import View, audit_trail, draw_runs, draw_terms, site_catalog


def _entries_opened_at(draws: list[records.Draw], now: float) -> float:
    """When entries to the next draw opened: the later of the previous draw's run and the
    commitment of the next one (now if none is committed yet: it would be committed now)."""
    last_run = next((d.run_at for d in draws if d.run_at), None) or 0.0
    committed = next((d.committed_at for d in draws if d.status == "committed"), now)
    return max(last_run, committed)


def run_staff_draw(site_id: str, procedure_id: str, now: float, staff_subject: str, client_ip: str | None,
                   reason: str | None = None) -> View:
    """Run the procedure's draw now. Refused (409 draw_too_soon, Retry-After) sooner than
    draw_interval_seconds after entries opened, unless a reason is given (only admins reach this
    route): the reason is kept on the draw and published with it. Who ran it and when is audited
    in the claim's own transaction. A draw left unfinished is resumed whatever the time: it was
    drawn already."""
    site_catalog.procedure(site_id, procedure_id)
    policy = site_catalog.policy(site_id, procedure_id)
    if not lifecycle.standby_allowed(policy):
        raise refusals.NOT_DRAW.exception()
    draws = storage.draws_of(site_id, procedure_id, limit=3)
    early_reason = None
    if not any(d.status in draw_terms.UNFINISHED for d in draws):
        wait = lottery.staff_draw_wait(_entries_opened_at(draws, now), policy.draw_interval_seconds, now)
        if wait and not reason:
            raise refusals.draw_too_soon(now + wait, now).exception()
        early_reason = reason if wait else None
    committed = next((d.draw_id for d in draws if d.status == "committed"), None)
    entry = audit_trail.staff_change(audit_trail.policy_entity(site_id, procedure_id), "draw_run", staff_subject, now, client_ip,
                                     draw_id=committed, early_reason=early_reason)
    staff = records.StaffRun(subject=staff_subject, client_ip=client_ip, audit=entry, early_reason=early_reason)
    return draw_runs.run_draw(site_id, procedure_id, now, staff=staff)
