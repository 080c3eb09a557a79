"""A draw run from the staff API (SPEC R6): never sooner than the procedure's interval unless an admin says why, always audited."""
from typing import Any

from chalicelib import storage
from chalicelib.platform import draw_function
from chalicelib.rules import lifecycle, lottery, records, refusals
from chalicelib.rules.errors import FairslotError
from chalicelib.usecases import View, audit_trail, draw_runs, draw_terms, site_catalog


def _entries_opened_at(draws: list[records.Draw], now: float) -> float:
    """When entries to the next draw opened: the later of the previous draw's run and the
    commitment of the next one (now if none is committed yet: it would be committed now)."""
    last_run = next((d.run_at for d in draws if d.run_at), None) or 0.0
    committed = next((d.committed_at for d in draws if d.status == "committed"), now)
    return max(last_run, committed)


def _early_reason(draws: list[records.Draw], interval: float, now: float, reason: str | None) -> str | None:
    """The reason kept with a draw run before the interval (None when on time or resuming a draw
    left unfinished: it was drawn already); 409 draw_too_soon when early without one."""
    if any(d.status in draw_terms.UNFINISHED for d in draws):
        return None
    wait = lottery.staff_draw_wait(_entries_opened_at(draws, now), interval, now)
    if wait and not reason:
        raise refusals.draw_too_soon(now + wait, now).exception()
    return reason if wait else None


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
    early_reason = _early_reason(draws, policy.draw_interval_seconds, now, reason)
    committed = next((d.draw_id for d in draws if d.status == "committed"), None)
    asked = {"site_id": site_id, "procedure_id": procedure_id, "staff_subject": staff_subject, "client_ip": client_ip,
             "early_reason": early_reason, "draw_id": committed}
    if not draw_function.configured():
        return _run(asked, now)
    answer = draw_function.invoke({STAFF_DRAW: asked})
    if "refused" in answer:
        raise refusals.relayed(answer["refused"]["code"], answer["refused"].get("retry_after")).exception()
    view: View = answer["draw"]
    return view


STAFF_DRAW = "fairslot_staff_draw"  # the draw function's event for a staff-run draw (app.py run_due_draws)


def _run(asked: dict[str, Any], now: float) -> View:
    entry = audit_trail.staff_change(audit_trail.policy_entity(asked["site_id"], asked["procedure_id"]), "draw_run", asked["staff_subject"],
                                     now, asked["client_ip"], draw_id=asked["draw_id"], early_reason=asked["early_reason"])
    staff = records.StaffRun(subject=asked["staff_subject"], client_ip=asked["client_ip"], audit=entry, early_reason=asked["early_reason"])
    return draw_runs.run_draw(asked["site_id"], asked["procedure_id"], now, staff=staff)


def run_for_the_api(asked: dict[str, Any], now: float) -> View:
    """In the draw function: the staff-run draw the API function checked and asked for; a
    refusal comes back as {"refused": {"code", "retry_after"}} for the API to answer."""
    try:
        return {"draw": _run(asked, now)}
    except FairslotError as exc:
        return {"refused": {"code": exc.code, "retry_after": exc.retry_after}}
