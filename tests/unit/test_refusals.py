"""refusals.py: which answer a transition that did not happen gets (no storage, no I/O); every
refusal chosen there, with its status and words from one registry (codes.py)."""
import ast
from pathlib import Path
from types import SimpleNamespace

import pytest

from chalicelib.rules import errors, refusals
from chalicelib.rules.codes import CODES
from chalicelib.rules.errors import Conflict, Expired, TooManyRequests
from chalicelib.rules.records import Outcome

NOW = 1_000_000.0


def failed(*labels, **facts):
    return Outcome.refused(*labels, **facts)


def answer(refusal):
    error = refusal.exception()
    return type(error), error.status, error.code, error.retry_after


# --- holds --------------------------------------------------------------------------------------

def test_a_hold_refused_for_everything_at_once_names_the_network_s_hour_first():
    every = failed("slot", "identity", "booking", "ip", "quota", hold_expires_at=NOW + 30)
    assert answer(refusals.hold_refusal(every, NOW, NOW + 100, NOW + 200)) == (TooManyRequests, 429, "rate_limited", 100)


def test_a_slot_that_cannot_be_held_answers_before_any_state_of_the_identity():
    for identity_state in ({"hold_expires_at": NOW + 30}, {"cooldown_until": NOW + 600}):
        refused = failed("slot", "identity", "booking", **identity_state)
        assert answer(refusals.hold_refusal(refused, NOW)) == (Conflict, 409, "slot_unavailable", None)


def test_on_a_holdable_slot_the_identity_s_active_hold_then_its_cooldown_then_its_booking():
    assert answer(refusals.hold_refusal(failed("identity", "booking", hold_expires_at=NOW + 30), NOW)) == (
        Conflict, 409, "hold_already_active", None)
    assert answer(refusals.hold_refusal(failed("booking"), NOW)) == (Conflict, 409, "booking_already_active", None)


def test_a_cooldown_is_told_to_the_next_whole_hour_after_the_later_of_its_ends():
    assert NOW % 3600 == 2800  # the next whole hour is NOW + 800
    cooling = failed("identity", hold_expires_at=NOW - 5, hold_lapse_until=NOW + 40.2, cooldown_until=NOW + 10)
    assert answer(refusals.hold_refusal(cooling, NOW)) == (TooManyRequests, 429, "cooldown", 800)
    later_cancel = failed("identity", hold_lapse_until=None, cooldown_until=NOW + 5000)
    assert answer(refusals.hold_refusal(later_cancel, NOW)) == (TooManyRequests, 429, "cooldown", 8000)
    nothing_known = failed("identity")  # the item as it was said nothing: the shortest wait
    assert answer(refusals.hold_refusal(nothing_known, NOW)) == (TooManyRequests, 429, "cooldown", 1)


@pytest.mark.parametrize("offset", [0.5, 59, 1799, 3599.9])
def test_the_instant_a_cooldown_is_told_to_end_is_the_same_whenever_one_asks(offset):
    until = NOW + 7000.25
    told = {NOW + t + refusals.cooldown(until, NOW + t).retry_after for t in (0, offset)}
    assert len({int(end) for end in told}) == 1 and int(min(told)) % 3600 == 0  # within the second after the hour


def test_then_the_partner_s_day_then_the_slot():
    assert answer(refusals.hold_refusal(failed("quota", "booking", "slot"), NOW, None, NOW + 7200.5)) == (
        TooManyRequests, 429, "partner_quota_exceeded", 7201)
    assert answer(refusals.hold_refusal(failed("slot"), NOW)) == (Conflict, 409, "slot_unavailable", None)


def test_a_slot_refusal_never_tells_the_slot_s_timing():
    refusal = refusals.hold_refusal(failed("slot", available_from=NOW + 500, hold_expires_at=None), NOW)
    assert refusal.retry_after is None and refusal.message == CODES["slot_unavailable"].en and "500" not in refusal.message


# --- standby requests ---------------------------------------------------------------------------

def test_a_request_refused_for_everything_names_the_cooldown_then_the_network_then_the_booking():
    every = failed("cooldown", "ip", "booking", "scope", hold_lapse_until=NOW + 9.5, cooldown_until=None)
    assert answer(refusals.request_refusal(every, NOW, NOW + 60)) == (TooManyRequests, 429, "cooldown", 800)  # to the hour
    assert answer(refusals.request_refusal(failed("ip", "booking", "scope"), NOW, NOW + 60)) == (
        TooManyRequests, 429, "rate_limited", 60)
    assert answer(refusals.request_refusal(failed("booking", "scope"), NOW)) == (Conflict, 409, "booking_already_active", None)
    assert answer(refusals.request_refusal(failed("scope"), NOW)) == (Conflict, 409, "request_already_active", None)


def test_a_cooldown_whose_identity_item_is_gone_waits_the_least():
    assert answer(refusals.request_refusal(failed("cooldown"), NOW)) == (TooManyRequests, 429, "cooldown", 1)


# --- confirm and release ------------------------------------------------------------------------

HOLD = SimpleNamespace(status="active", expires_at=NOW + 60)


def test_a_hold_that_ran_out_while_active_has_expired_any_other_is_no_longer_active():
    assert answer(refusals.hold_not_active("active", NOW, NOW)) == (Expired, 410, "hold_expired", None)
    assert answer(refusals.hold_not_active("active", NOW + 1, NOW)) == (Conflict, 409, "hold_not_active", None)
    assert answer(refusals.hold_not_active("released", NOW - 1, NOW)) == (Conflict, 409, "hold_not_active", None)


def test_a_hold_confirmed_meanwhile_is_no_refusal():
    assert refusals.confirm_refusal(failed("hold", "slot", "active_booking", status="confirmed"), HOLD, NOW, NOW - 1) is None


def test_a_confirmation_names_the_hold_as_stored_now_then_the_booking_then_the_start():
    expired = failed("hold", "slot", "active_booking", status="active", expires_at=NOW - 1)
    assert answer(refusals.confirm_refusal(expired, HOLD, NOW, NOW - 1)) == (Expired, 410, "hold_expired", None)
    assert answer(refusals.confirm_refusal(failed("hold", status="released", expires_at=NOW + 5), HOLD, NOW, NOW + 99)) == (
        Conflict, 409, "hold_not_active", None)
    assert answer(refusals.confirm_refusal(failed("active_booking", "slot"), HOLD, NOW, NOW - 1)) == (
        Conflict, 409, "booking_already_active", None)
    assert answer(refusals.confirm_refusal(failed("slot"), HOLD, NOW, NOW)) == (Conflict, 409, "slot_started", None)
    assert answer(refusals.confirm_refusal(failed("slot"), HOLD, NOW, NOW + 1)) == (Conflict, 409, "hold_not_active", None)


# --- staff, look-ups, offers ----------------------------------------------------------------------

def test_closing_a_slot_whose_hold_ended_meanwhile_is_worth_a_retry_anything_else_is_not():
    assert refusals.close_refusal(failed("hold", "identity")).code == "state_changed"
    assert refusals.close_refusal(failed("identity")).code == "state_changed"
    assert refusals.close_refusal(failed("slot", "hold")).code == "slot_not_closable"
    assert refusals.close_refusal(failed("booking")).code == "slot_not_closable"


def test_a_look_up_over_its_limit_waits_for_the_network_s_window():
    assert answer(refusals.lookup_refusal(NOW, NOW + 100)) == (TooManyRequests, 429, "rate_limited", 100)


def test_an_offer_is_made_already_made_or_not_possible():
    assert refusals.offer_outcome(failed()) == refusals.OFFER_MADE
    assert refusals.offer_outcome(failed("hold", "slot", "request")) == refusals.OFFER_ALREADY_MADE
    assert refusals.offer_outcome(failed("slot")) == refusals.OFFER_NOT_POSSIBLE
    assert refusals.offer_outcome(failed("identity", "request")) == refusals.OFFER_NOT_POSSIBLE


# --- the outcome every conditional write of storage returns ----------------------------------------

def test_an_outcome_is_done_with_its_value_or_refused_with_its_labels_and_facts_and_is_never_a_truth_value():
    done = Outcome.of({}, {"ignored": 1}, value="the claimed draw")
    assert done.ok and done.value == "the claimed draw" and done.facts == {} and "identity" not in done
    refused = Outcome.of({"identity": {}, "ip": {}}, {"hold_expires_at": NOW + 30}, value="never")
    assert not refused.ok and refused.value is None and refused.conditions == {"identity", "ip"}
    assert "identity" in refused and refused.facts == {"hold_expires_at": NOW + 30}
    with pytest.raises(TypeError):
        bool(refused)  # the old conventions were opposite: a truth test would guess


# --- one registry, one module of refusals ---------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def every_refusal():
    named = [value for value in vars(refusals).values() if isinstance(value, refusals.Refusal)]
    return named + [refusal for pair in refusals.BEARER.values() for refusal in pair]


def test_a_refusal_answers_with_its_code_s_status_and_english_text_and_nothing_else_says_them():
    assert len(every_refusal()) > 20
    for refusal in every_refusal():
        error = refusal.exception()
        assert isinstance(error, errors.Refused) and error.code == refusal.code
        assert (error.status, error.message) == (CODES[refusal.code].status, CODES[refusal.code].en), refusal.code
        assert type(error) is errors.REFUSED_BY_STATUS[error.status]
    assert not any(isinstance(vars(kind).get("status"), int) for kind in vars(errors).values() if isinstance(kind, type)), \
        "a status on an error class: it is the code's, in codes.py"


def test_a_refusal_of_a_code_the_registry_lacks_cannot_be_made():
    with pytest.raises(KeyError):
        refusals.Refusal("no_such_code")


# Errors that are not refusals: a rule's or the contract's verdict on a value, and storage trouble.
NOT_REFUSALS = {"InvalidValue", "InvalidField", "MalformedRequest", "StorageUnavailable"}


def errors_built_here(tree):
    """The error classes a module builds itself (raised or not), and any error built with a code
    of its own: what only rules/refusals.py may do."""
    classes = {name for name, kind in vars(errors).items()
               if isinstance(kind, type) and issubclass(kind, errors.FairslotError) and name not in NOT_REFUSALS}
    built = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in classes or (name in NOT_REFUSALS and any(k.arg == "code" for k in node.keywords)):
                built.append(f"line {node.lineno}: {name}")
    return built


def test_no_use_case_nor_route_builds_a_refusal_itself():
    """Use cases and app.py raise refusals.X.exception(): a refusal written inline drifts from
    the registry and from its other copies."""
    sources = [ROOT / "app.py", *(path for layer in ("usecases", "http", "handlers", "platform")
                                  for path in sorted((ROOT / "chalicelib" / layer).glob("*.py")))]
    found = {source.name: errors_built_here(ast.parse(source.read_text())) for source in sources}
    assert {name: built for name, built in found.items() if built} == {}, "use refusals.py"


@pytest.mark.parametrize("line", ['raise NotFound("Unknown slot.", code="slot_not_found")',
                                  'raise errors.Conflict("Changed.")',
                                  'error = Forbidden()',
                                  'raise InvalidValue("x", "y", code="conflict")'])
def test_the_gate_sees_an_inline_refusal(line):
    assert errors_built_here(ast.parse(line))


def test_the_gate_lets_a_field_s_verdict_and_a_named_refusal_through():
    assert not errors_built_here(ast.parse('raise InvalidValue("last_day", "{last_day} must be in a year.")\n'
                                           'raise refusals.NOT_DRAW.exception()\nraise StorageUnavailable()'))
