"""Public transparency (SPEC R6, GET /stats): draws' records and figures, the daily statistics."""
from datetime import UTC, date, datetime, timedelta

from chalicelib import storage
from chalicelib.platform.clock import to_rfc3339
from chalicelib.rules import records, refusals
from chalicelib.rules.errors import InvalidValue
from chalicelib.usecases import View, draw_terms, site_catalog


def _figures(draw: records.Draw) -> tuple[int, int, int, int, int, dict[str, int]]:
    """(entrants, slots, allocated, offered, skipped, record pages) of a recorded draw."""
    assert draw.entrant_count is not None and draw.slot_count is not None and draw.allocated_count is not None, "counted when recorded"
    assert draw.record_parts is not None, "counted when recorded"
    return (int(draw.entrant_count), int(draw.slot_count), int(draw.allocated_count), int(draw.offered_count or 0),
            int(draw.skipped_count or 0), {k: int(v) for k, v in draw.record_parts.items()})


def draw_view(draw: records.Draw) -> View:
    """A draw's public summary, bounded in size: its record is read in pages (draw_record_page)."""
    view: View = {"draw_id": draw.draw_id, "status": draw.status, "seed_hash": draw.seed_hash,
            "committed_at": to_rfc3339(draw.committed_at)}
    if draw.run_at is not None:
        view["run_at"] = to_rfc3339(draw.run_at)
        view["run_by"] = "staff" if draw.run_by else "schedule"
        if draw.early_reason:
            view["early_reason"] = draw.early_reason  # an admin ran it before draw_interval_seconds: why
    if draw.status in draw_terms.REVEALED:  # the seed is revealed only once the allocation is recorded
        entrants, slots, allocated, offered, skipped, pages = _figures(draw)
        view.update(seed=draw.seed, entrants_hash=draw.entrants_hash, entrants=entrants, slots=slots, allocated=allocated, record_pages=pages)
        if draw.status == "run":
            view.update(offered=offered, skipped=skipped, odds=round(offered / entrants, 4) if entrants else None)
    return view


def public_draws(site_id: str, procedure_id: str, now: float, limit: int = 20, cursor: str | None = None) -> View:
    """Read only: the next draw's commitment is written on the writers' side (draw_terms.pending_draw)."""
    site_catalog.procedure(site_id, procedure_id)
    draws, next_cursor = storage.draws_page(site_id, procedure_id, limit, cursor)
    return {"draws": [draw_view(d) for d in draws], "next_cursor": next_cursor}


def draw_record_page(site_id: str, procedure_id: str, draw_id: str, part: str, cursor: str | None) -> View:
    """One page of a draw's record (entrants, slots or allocation), for anyone to replay it."""
    site_catalog.procedure(site_id, procedure_id)
    if part not in storage.RECORD_PARTS:
        raise InvalidValue("record_part", "{record_part} must be one of: " + ", ".join(storage.RECORD_PARTS) + ".")
    draw = storage.get_draw(site_id, procedure_id, draw_id)
    if draw is None or draw.status not in draw_terms.REVEALED:
        raise refusals.DRAW_NOT_FOUND.exception()
    items, next_cursor = storage.draw_record_chunk(draw, part, cursor)
    return {"draw_id": draw.draw_id, "part": part, "items": items, "next_cursor": next_cursor}


STATS_MAX_DAYS = 92


def _stats_days(start: datetime, end: datetime | None) -> tuple[date, date]:
    """The UTC days of appointments [start, end) covers (end: start + 31 days if None), at most
    STATS_MAX_DAYS of them, between the years 2000 and 2100, checked before any arithmetic."""
    if not 2000 <= start.astimezone(UTC).year <= 2100:
        raise InvalidValue("window_start", "{window_start} must be a date between 2000 and 2100.")
    if end is None:
        end = start + timedelta(days=31)
    elif not 2000 <= end.astimezone(UTC).year <= 2100:
        raise InvalidValue("window_end", "{window_end} must be a date between 2000 and 2100.")
    first_day = start.astimezone(UTC).date()
    last_day = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    if end <= start or (last_day - first_day).days >= STATS_MAX_DAYS:
        raise InvalidValue("window_end", f"{{window_end}} must be after {{window_start}}, at most {STATS_MAX_DAYS} days later.")
    return first_day, last_day


def stats(site_id: str, start: datetime, end: datetime | None, now: float) -> View:
    """Public figures of a site for the appointments in [start, end) (SPEC §5 /stats), by UTC day:
    counters kept by the changes themselves (storage.figures_of_site), read with one Query
    however many slots there are, and each procedure's latest draws."""
    first_day, last_day = _stats_days(start, end)
    site = site_catalog.site(site_id)
    counted = storage.figures_of_site(site_id, first_day.isoformat(), last_day.isoformat())
    per_procedure = {p["procedure_id"]: {name: 0 for name in storage.FIGURE_NAMES} for p in site.procedures}
    for procedure_id, figures in counted.items():
        per_procedure.setdefault(procedure_id, {}).update(figures)
    draws = {}
    for p in site.procedures:
        runs = [draw_view(d) for d in storage.draws_of(site_id, p["procedure_id"]) if d.status == "run"]
        if runs:
            draws[p["procedure_id"]] = [{k: v[k] for k in ("draw_id", "run_at", "entrants", "slots", "offered", "odds")} for v in runs]
    # [from, to) as the query reads them: whole UTC days of appointments.
    return {"site_id": site_id, "from": first_day.isoformat(), "to": (last_day + timedelta(days=1)).isoformat(),
            "procedures": per_procedure, "draws": draws}
