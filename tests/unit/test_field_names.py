"""The rules name concepts (InvalidValue); each route answers them on its own request's fields
(inputs.*_FIELDS, declared with the route): those fields exist in the route's contract, and every
route whose request carries a value a rule checks declares where."""
import pytest

import app as application
from chalicelib.http import contract, inputs
from chalicelib.rules.errors import InvalidValue

# Fields whose values the rules check (domain and use cases): a route carrying one must map it.
CHECKED = {"applicant", "document", "permit_expires_on", "from", "to", "part", "cursor"}


def routes():
    for path, methods in application.app.routes.items():
        for method, entry in methods.items():
            if method != "OPTIONS":
                yield method, path, entry.view_function.fields, contract.operation(method, path)


def field_exists(op, field):
    if op.body is None:
        return field in op.query
    schema = op.body
    for name in field.split("."):
        schema = getattr(schema, "fields", {}).get(name)
        if schema is None:
            return False
    return True


@pytest.mark.parametrize("method,path,fields,op", list(routes()), ids=lambda v: v if isinstance(v, str) else "")
def test_a_route_maps_the_concepts_its_request_carries_to_fields_of_its_contract(method, path, fields, op):
    for concept, field in fields.items():
        assert field_exists(op, field), f"{method} {path}: {concept} -> {field}, not a field of its contract"
    carried = set(op.query) | set(op.body.fields if op.body is not None else ())
    mapped = {field.split(".")[0] for field in fields.values()}
    unmapped = sorted((carried & CHECKED) - mapped)
    assert not unmapped, f"{method} {path} carries {unmapped} without mapping them: declare fields=inputs.*_FIELDS"


def test_a_refusal_is_answered_on_the_route_s_field_with_the_message_naming_it():
    refused = InvalidValue("last_day", "{last_day} must be on or after {first_day}.")
    assert (refused.concept, refused.message) == ("last_day", "last_day must be on or after first_day.")
    answer = inputs.invalid_field(refused, inputs.DRAW_REQUEST_FIELDS)
    assert (answer.details, answer.message, answer.status, answer.code) == (
        {"field": "to"}, "to must be on or after from.", 422, "invalid_field")


def test_an_unmapped_concept_stands_for_the_field():
    answer = inputs.invalid_field(InvalidValue("hold_ttl_seconds", "hold_ttl_seconds must be a number."), {})
    assert answer.details == {"field": "hold_ttl_seconds"}
