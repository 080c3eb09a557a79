"""Storage: the only package that reads or writes DynamoDB (DEVELOPERS.md, "Storage").

Every write names its condition; every change of several items is one transaction. Function
names say what the write guarantees. A small core (connection, transaction, calls, cursors,
conditions) serves one module per aggregate; callers use the names below
(`from chalicelib import storage; storage.hold_slot_if_available(...)`), never the models: they
pass and get back chalicelib.rules.records values.

Every write that its condition may refuse (the `*_if_*` functions, `claim_committed_draw`, the
other moves of a draw, check-in, no-show, the look-up count, the reminder and link marks, the
audit entries written alone) returns one type, records.Outcome, read one way:

    result = storage.release_hold_if_active(...)
    if not result.ok:
        raise refusals.hold_not_active(...).exception()

`result.value` is what the write produced when it happened (the claimed draw, the slots created,
the booking a closed slot had); a refused result carries the labels of its conditions that
failed and the facts behind them (`"identity" in result`, `result.facts`), for
chalicelib.rules.refusals to choose the answer. An Outcome is never a truth value.
"""
from chalicelib.storage.audit import history_of
from chalicelib.storage.bookings import (
    booking_image,
    bookings_of_day,
    bookings_of_partner,
    bookings_to_remind,
    cancel_booking_if_booked,
    check_in_booking,
    confirm_hold_as_booking,
    get_booking,
    mark_link_requested,
    mark_no_show,
    mark_reminded_once,
)
from chalicelib.storage.catalog import create_site_if_new, get_policy, get_site, list_sites, replace_policy_if_unchanged
from chalicelib.storage.draws import (
    RECORD_CHUNK_BYTES,
    RECORD_PARTS,
    claim_committed_draw,
    commit_draw_if_none_pending,
    draw_record_chunk,
    draws_of,
    draws_page,
    file_request_if_allowed,
    get_draw,
    get_request,
    make_offer_if_still_possible,
    mark_draw_recorded,
    mark_draw_run,
    offer_notified,
    offers_to_notify,
    read_draw_record,
    record_draw_chunks,
    release_draw,
    renew_draw_lease,
    requests_by_id,
    take_over_stale_draw,
    waiting_requests,
    withdraw_request_if_live,
)
from chalicelib.storage.figures import FIGURE_NAMES, figures_of_site
from chalicelib.storage.identities import count_lookup, live_bookings_of
from chalicelib.storage.partners import (
    create_partner_if_new,
    get_partner,
    list_partners,
    partner_by_key_hash,
    revoke_partner_if_active,
)
from chalicelib.storage.proofs import count_code_try, get_proof, get_verification, issue_proof_if_unused, start_verification
from chalicelib.storage.signals import record_cooldown_refusal, signals_of_day
from chalicelib.storage.slots import (
    close_slot_if_open_to_change,
    create_slots_if_new,
    free_slots,
    get_hold,
    get_slot,
    hold_slot_if_available,
    holdable_slots_between,
    release_draw_leftover_if_unchanged,
    release_hold_if_active,
    search_holdable_slots,
    slots_by_id,
    write_entries,
)
from chalicelib.storage.tables import bookings_table_name, ensure_tables

# The modules of each aggregate: every public function of each runs inside calls.storage_call
# (tests/api/test_dynamodb_faults.py walks them).
AGGREGATES = ("slots", "bookings", "identities", "proofs", "draws", "partners", "audit", "signals", "figures", "catalog")

__all__ = [
    "history_of",
    "booking_image", "bookings_of_day", "bookings_of_partner", "bookings_to_remind", "cancel_booking_if_booked", "check_in_booking",
    "confirm_hold_as_booking", "get_booking", "mark_link_requested", "mark_no_show", "mark_reminded_once",
    "create_site_if_new", "get_policy", "get_site", "list_sites", "replace_policy_if_unchanged",
    "RECORD_CHUNK_BYTES", "RECORD_PARTS", "claim_committed_draw",
    "commit_draw_if_none_pending", "draw_record_chunk", "draws_of", "draws_page", "file_request_if_allowed", "get_draw",
    "get_request", "make_offer_if_still_possible", "mark_draw_recorded", "mark_draw_run", "offer_notified",
    "offers_to_notify", "read_draw_record", "record_draw_chunks", "release_draw", "renew_draw_lease", "requests_by_id",
    "take_over_stale_draw", "waiting_requests", "withdraw_request_if_live",
    "FIGURE_NAMES", "figures_of_site", "count_lookup", "live_bookings_of",
    "create_partner_if_new", "get_partner", "list_partners", "partner_by_key_hash", "revoke_partner_if_active",
    "count_code_try", "get_proof", "get_verification", "issue_proof_if_unused", "start_verification",
    "record_cooldown_refusal", "signals_of_day",
    "close_slot_if_open_to_change", "create_slots_if_new", "free_slots", "get_hold", "get_slot", "hold_slot_if_available",
    "holdable_slots_between", "release_draw_leftover_if_unchanged", "release_hold_if_active", "search_holdable_slots",
    "slots_by_id", "write_entries", "ensure_tables", "bookings_table_name",
]
