"""The contract (chalicelib/http/contract.py) against what it describes: the app's routes, the OpenAPI
rules, the error codes the code can send, and the web app's copy (web/src/contract.js)."""
import ast
import dataclasses
import re
from datetime import date
from pathlib import Path

import pytest

import app as application
from chalicelib.http import contract, openapi
from chalicelib.http.schema import Items, Obj
from chalicelib.rules import errors, identity_keys, submitted
from chalicelib.rules.codes import CODES
from devlocal import web_contract

ROOT = Path(__file__).resolve().parents[2]


def app_routes():
    return {(method, path) for path, methods in application.app.routes.items() for method in methods if method != "OPTIONS"}


def documented_routes():
    return {(method.upper(), path) for path, item in openapi.document()["paths"].items() for method in item}


def test_every_route_of_the_app_is_in_the_document_and_nothing_else():
    assert app_routes() - documented_routes() == set(), "routes without a contract: add an Operation in chalicelib/http/contract.py"
    assert documented_routes() - app_routes() == set(), "documented routes the app does not serve"


def test_the_document_is_valid_openapi_3_1_with_both_credentials():
    from openapi_spec_validator import validate

    document = openapi.document()
    validate(document)
    assert document["openapi"].startswith("3.1")
    schemes = document["components"]["securitySchemes"]
    assert schemes["partnerKey"] == {**schemes["partnerKey"], "type": "apiKey", "in": "header", "name": "x-api-key"}
    assert schemes["staffToken"]["scheme"] == "bearer"
    hold = document["paths"]["/holds"]["post"]
    assert hold["requestBody"]["content"]["application/json"]["schema"]["properties"]["applicant"]["properties"]["email"]["examples"]
    assert hold["responses"]["422"]["content"]["application/json"]["example"]["error"]["code"] == "invalid_field"


def test_the_document_is_served(api):
    reply = api.call("GET", "/openapi.json")
    assert reply.status == 200 and reply.body == openapi.document()


def _raised_codes():
    """Every literal error code in the code: Refusal("...") in rules/refusals.py, code="..."
    arguments, *_CODES tables, and the default code of each error class raised without one."""
    defaults = {cls.__name__: cls.code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.FairslotError)}
    found = {}
    for source in [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]:
        for node in ast.walk(ast.parse(source.read_text())):
            for code in _codes_named(node, defaults):
                found.setdefault(code, source.name)
    return found


def _codes_named(node, defaults):
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Refusal" and node.args:
        if isinstance(node.args[0], ast.Constant):
            yield node.args[0].value
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) in defaults:
        code = next((k.value for k in node.keywords if k.arg == "code"), None)
        if code is None:
            yield defaults[node.func.id]
        elif isinstance(code, ast.Constant):
            yield code.value
    if isinstance(node, ast.Assign) and any(getattr(t, "id", "").endswith("_CODES") for t in node.targets):
        table = node.value.values if isinstance(node.value, ast.Dict) else [node.value]  # values, not the keys
        for const in (c for value in table for c in ast.walk(value)):
            if isinstance(const, ast.Constant) and isinstance(const.value, str):
                yield const.value


def _gateway_codes():
    """The codes API Gateway answers itself (infra/resources.yaml) and chalice local mirrors."""
    template = (ROOT / "infra" / "resources.yaml").read_text()
    local = (ROOT / "devlocal" / "api_server.py").read_text()
    middleware = (ROOT / "app.py").read_text()
    return (set(re.findall(r'"code": "([a-z_]+)"', template)) | set(re.findall(r'envelope\(\d+, "([a-z_]+)"', local))
            | set(re.findall(r'\b[45]\d\d: "([a-z_]+)"', middleware)))


def test_every_code_the_api_can_send_is_in_the_registry():
    raised = _raised_codes()
    assert {"booking_not_found", "slot_unavailable", "draw_running", "invalid_field", "storage_unavailable"} <= set(raised)  # the scan works
    missing = {code: where for code, where in raised.items() if code not in CODES}
    assert missing == {}, "codes without an entry in chalicelib/rules/codes.py"
    gateway = _gateway_codes()
    assert {"not_found", "unauthorized", "rate_limited", "method_not_allowed"} <= gateway
    assert gateway - set(CODES) == set()


@pytest.mark.parametrize("path", [ROOT / "app.py", ROOT / "chalicelib" / "handlers" / "routing.py"], ids=lambda p: p.name)
def test_every_code_app_py_names_is_in_the_registry(path):
    """app.py and the handlers' routing answer some codes themselves (Chalice's refusals, the 500):
    each literal code they hand to the envelope, or read from the registry, is registered."""
    tree = ast.parse(path.read_text())
    named = {node.slice.value for node in ast.walk(tree) if isinstance(node, ast.Subscript)
             and getattr(node.value, "id", None) == "CODES" and isinstance(node.slice, ast.Constant)}
    named |= {value.value for node in ast.walk(tree) if isinstance(node, ast.Dict)
              for key, value in zip(node.keys, node.values, strict=True)
              if isinstance(key, ast.Constant) and key.value == "code" and isinstance(value, ast.Constant)}
    named |= {value.value for node in ast.walk(tree) if isinstance(node, ast.Dict)  # status -> code maps
              for key, value in zip(node.keys, node.values, strict=True)
              if isinstance(key, ast.Constant) and isinstance(key.value, int) and isinstance(value, ast.Constant)}
    assert named  # the scan finds what it is for
    assert named - set(CODES) == set()


def test_each_route_lists_only_registered_codes_and_each_code_has_a_status_and_both_languages():
    for op in contract.OPERATIONS:
        assert contract.codes_of(op) <= set(CODES), op.path
    for code, entry in CODES.items():
        status, en, fr = entry
        assert isinstance(status, int) and 400 <= status < 600, code
        assert en.strip() and fr.strip() and en != fr, code
        assert "{" not in en + fr, f"{code}: the web app shows these texts as they are"


def test_the_web_app_copy_of_the_catalogue_and_field_rules_is_current():
    assert web_contract.main(["--check"]) == 0, "run: .venv/bin/python -m devlocal.web_contract"
    validate_js = (ROOT / "web" / "src" / "validate.js").read_text()
    api_js = (ROOT / "web" / "src" / "api.js").read_text()
    assert "from './contract.js'" in validate_js and "from './contract.js'" in api_js
    # No second copy of a rule or a guessed code in the web app.
    assert not re.search(r"/\^\\d\{10\}\$/|\[A-Za-z0-9-\]\+\(", validate_js)
    assert not re.search(r"\.test\(code\)", api_js)


@pytest.mark.parametrize("text", ["²", "٣", "1" * 5000, " 12", "1.5", "0x10", "+-1", ""])
def test_query_integers_are_ascii_digits_and_bounded(text):
    with pytest.raises(errors.InvalidField):
        contract.Integer(1, 100).from_text(text, "limit") if text != " 12" else contract.Integer(1, 10).from_text(text, "limit")


@pytest.mark.parametrize("text", ["9999-12-31", "0001-01-01", "2026-W01-1", "2026-02-30", "٢٠٢٦-٠١-٠١", "2026-01-01T10:00:00",
                                  "9999-12-31T23:59:59+00:00", "1899-12-31T23:00:00+00:00"])
def test_dates_and_instants_out_of_range_or_form_are_refused(text):
    with pytest.raises(errors.InvalidField):
        contract.Instant().parse(text, "from")
    with pytest.raises(errors.InvalidField):
        contract.Day().parse(text, "date")


def test_bodies_refuse_constants_huge_numbers_and_nesting_deeper_than_their_schema():
    for raw in ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e400}', '{"a": ' + "1" * 5000 + "}",
                "[" * 100_000 + "]" * 100_000, '{"a": {"b": {"c": 1}}}']:
        with pytest.raises(errors.MalformedRequest):
            contract.decode_json(raw, max_depth=2)
    assert contract.decode_json('{"a": {"b": 1.5}}', max_depth=2) == {"a": {"b": 1.5}}


def test_a_parsed_body_names_the_field_at_fault():
    with pytest.raises(errors.InvalidField) as refused:
        contract.HOLD_BODY.parse({"slot_id": "s", "applicant": {"document": {"type": "agdref", "number": "1"}, "birth_date": "1990-01-02",
                                                                "family_name": "A", "given_names": "B", "email": "not-an-email"}})
    assert refused.value.details == {"field": "applicant.email"}
    assert contract.Day().parse("2026-01-31", "d") == date(2026, 1, 31)


def test_a_body_is_parsed_once_into_its_frozen_value():
    """The handler and the use case get the contract's value: the document normalised, the address canonical."""
    hold = contract.HOLD_BODY.parse({"slot_id": " s1 ", "applicant": {
        "document": {"type": "agdref", "number": "12 345-678.90"}, "birth_date": "1990-01-02", "family_name": " Durand ",
        "given_names": "Amina", "email": "Amina@Préfecture.FR"}})
    assert isinstance(hold, submitted.Hold) and hold.slot_id == "s1"
    assert hold.applicant.document == identity_keys.Document("agdref", "1234567890")
    assert (hold.applicant.family_name, hold.applicant.email, hold.applicant.phone) == ("Durand", "amina@xn--prfecture-c4a.fr", None)
    schedule = contract.SCHEDULE_BODY.parse({"procedure_id": "p", "from": "2026-03-02", "to": "2026-03-06", "opens": "09:00",
                                             "closes": "12:00", "slot_minutes": 15})
    assert (schedule.first_day, schedule.last_day, schedule.weekdays, schedule.counters, schedule.publish) == (
        date(2026, 3, 2), date(2026, 3, 6), frozenset({0, 1, 2, 3, 4}), 1, "random_window")


def _typed_objects(schema):
    if isinstance(schema, Obj):
        yield schema
        for child in schema.fields.values():
            yield from _typed_objects(child)
    elif isinstance(schema, Items):
        yield from _typed_objects(schema.item)


@pytest.mark.parametrize("op", [op for op in contract.OPERATIONS if op.body is not None], ids=lambda op: f"{op.method} {op.path}")
def test_each_body_s_fields_are_the_attributes_of_its_frozen_value(op):
    for obj in _typed_objects(op.body):
        if not dataclasses.is_dataclass(obj.into):
            continue
        attributes = {f.name: f for f in dataclasses.fields(obj.into)}
        assert {obj.attributes.get(key, key) for key in obj.fields} == set(attributes), obj.into
        without_default = {name for name, f in attributes.items() if f.default is dataclasses.MISSING}
        assert {obj.attributes.get(key, key) for key in obj.required} == without_default, obj.into


# --- every answer declared, field by field (chalicelib/http/responses.py) -------------------------

def _schemas(node, where="#"):
    """Every schema object under `node`, with where it is."""
    if isinstance(node, dict):
        yield where, node
        for key, child in node.items():
            if key in ("properties", "$defs") and isinstance(child, dict):
                for name, sub in child.items():
                    yield from _schemas(sub, f"{where}/{key}/{name}")
            elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "prefixItems"):
                yield from _schemas(child, f"{where}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _schemas(child, f"{where}/{i}")


def _answers(document):
    for path, item in document["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                yield f"{method.upper()} {path} {status}", int(status), schema


def test_every_answer_with_a_body_declares_each_object_s_fields_or_its_map():
    """An object says what it holds: its properties (closed by tests/contract_check.py) or, for
    a map keyed by ids, its values (`additionalProperties`); a bare {"type": "object"} would
    let anything through the API suite's check."""
    bare = []
    for name, status, schema in _answers(openapi.document()):
        assert (schema is None) == (status == 204), name
        for where, node in _schemas(schema or {}):
            if node.get("type") == "object" and "properties" not in node and "additionalProperties" not in node:
                bare.append(f"{name} {where}")
    assert bare == []


def test_the_fields_the_api_was_found_sending_undeclared_are_declared():

    paths = openapi.document()["paths"]

    def schema(method, path, status):
        return paths[path][method]["responses"][status]["content"]["application/json"]["schema"]

    sites = schema("get", "/sites", "200")
    procedure = sites["properties"]["sites"]["items"]["properties"]["procedures"]["items"]["properties"]
    assert {"name_en", "accepted_documents", "cooldown_seconds"} <= set(procedure)
    assert "personal_data_retention_days" in sites["required"]
    assert "standby" in schema("get", "/sites/{site_id}/slots", "200")["properties"]
    assert "name_en" in schema("post", "/staff/sites", "201")["properties"]


def test_the_api_suite_s_check_refuses_an_undeclared_field_a_wrong_format_and_an_id_of_another_shape():
    import jsonschema_rs

    from chalicelib.http.responses import EXAMPLES
    from tests.contract_check import closed

    hold_schema = openapi.document()["paths"]["/holds"]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    validator = jsonschema_rs.Draft202012Validator(closed(hold_schema), validate_formats=True)
    slot = {"slot_id": EXAMPLES["slot_id"], "site_id": "s", "procedure_id": "p", "starts_at": "2026-01-01T09:00:00Z",
            "ends_at": "2026-01-01T10:00:00Z"}
    hold = {"hold_id": EXAMPLES["hold_id"], "hold_token": EXAMPLES["token"], "expires_at": "2026-01-01T08:00:00Z", "slot": slot}
    assert validator.is_valid(hold)
    assert not validator.is_valid({**hold, "slot": {**slot, "undeclared": 1}})
    assert not validator.is_valid({**hold, "expires_at": "in ten minutes"})
    assert not validator.is_valid({**hold, "hold_id": "hld_8d2e"})
    assert not validator.is_valid({**hold, "slot": {**slot, "slot_id": "slt_4f1c2a9e"}})


def _examples(node, key=None):
    """(field name, example) for every example of the document: a schema's `examples` under its
    property name, a parameter's `example` under its name, and each field of an example object."""
    if isinstance(node, dict):
        if "name" in node and "example" in node and node.get("in") in ("path", "query", "header"):
            yield node["name"], node["example"]
        for example in node.get("examples", []) if isinstance(node.get("examples"), list) else []:
            yield from _fields_of(key, example)
        if "example" in node and "in" not in node:
            yield from _fields_of(key, node["example"])
        for name, child in node.items():
            yield from _examples(child, name if isinstance(child, dict) else key)
    elif isinstance(node, list):
        for child in node:
            yield from _examples(child, key)


def _fields_of(key, example):
    if isinstance(example, dict):
        for name, value in example.items():
            yield from _fields_of(name, value)
    elif isinstance(example, list):
        for value in example:
            yield from _fields_of(key, value)
    else:
        yield key, example


def test_every_example_id_has_the_shape_the_code_mints():
    from tests.contract_check import ID_PATTERNS

    checked = [(name, value) for name, value in _examples(openapi.document()) if name in ID_PATTERNS]
    assert {"slot_id", "hold_id", "booking_id", "request_id", "partner_id", "draw_id", "reference", "hold_token",
            "api_key"} <= {name for name, _ in checked}
    wrong = [(name, value) for name, value in checked if not re.fullmatch(ID_PATTERNS[name], str(value))]
    assert wrong == []


def test_the_id_shapes_are_what_the_code_mints():
    from chalicelib.platform import tokens
    from chalicelib.rules import lifecycle
    from tests.contract_check import ID_PATTERNS

    minted = {"slot_id": lifecycle.slot_id("secret", "site", "renewal", "2026-03-02T08:00:00Z", 1),
              "hold_id": tokens.new_id("hold"), "booking_id": tokens.new_id("bkg"), "request_id": tokens.new_id("req"),
              "partner_id": tokens.new_id("ptn"), "reference": tokens.new_reference(), "hold_token": tokens.new_token(),
              "booking_token": tokens.derived_token("secret", "booking", "token")}
    assert {name: value for name, value in minted.items() if not re.fullmatch(ID_PATTERNS[name], value)} == {}


def test_the_stats_figures_are_the_counters_storage_keeps():
    from chalicelib.http import responses
    from chalicelib.storage import figures

    assert responses.FIGURE_NAMES == figures.FIGURE_NAMES
