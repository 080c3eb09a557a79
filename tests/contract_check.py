"""Every answer the API suite receives, checked against GET /openapi.json with undeclared fields forbidden.

tests/support.py `Api.call` hands each reply here: its operation is found by method and path
template, and its body validated against that operation's schema for the status, with every object
closed (`additionalProperties: false` where the document leaves it open, see
chalicelib/http/responses.py) and formats checked; the ids it carries must have the shapes the code
mints (ID_PATTERNS, added to the closed schema as patterns). Validation is jsonschema-rs's (in the dev
lock with schemathesis): about 1 ms for a page of 100 slots, against 25 ms for the pure-Python
jsonschema (bench/contract_check.py). An answer whose operation or status the document does not declare fails the
test that received it. tests/conftest.py reports which operations were seen, and after a whole API
suite tests/api/test_contract_coverage.py fails if a success status of an operation was never
answered (UNEXERCISED lists the exceptions).
"""
import copy
import re
from collections import defaultdict

import jsonschema_rs

from chalicelib.http import openapi

# The shapes of the ids the code mints (chalicelib/platform/tokens.py, lifecycle.slot_id,
# draw_terms); a reply carrying one under another shape fails, and so does an example of the document.
_HEX24 = "[0-9a-f]{24}"
_TOKEN = "(?:v[0-9]{1,6}_)?[A-Za-z0-9_-]{43}"  # 256 bits, URL-safe base64 without padding; a key version past 1 leads (v2_...)
_REFERENCE_LETTERS = "[23456789ABCDEFGHJKMNPQRSTVWXYZ]"
ID_PATTERNS = {
    "slot_id": f"slot_{_HEX24}",
    "hold_id": f"hold_{_HEX24}",
    "booking_id": f"bkg_{_HEX24}",
    "request_id": f"req_{_HEX24}",
    "partner_id": f"ptn_{_HEX24}",
    "draw_id": "[0-9]{15}-[0-9a-f]{8}",
    "reference": f"FS-{_REFERENCE_LETTERS}{{4}}-{_REFERENCE_LETTERS}{{4}}",
    "hold_token": _TOKEN,
    "booking_token": _TOKEN,
    "request_token": _TOKEN,
    "token": _TOKEN,
    "api_key": f"fsk_{_TOKEN}",
    "verification_id": f"vrf_{_HEX24}",
    "identity_token": _TOKEN,
}

whole_suite = False  # set by tests/conftest.py: this session runs every test of tests/api
# Operations the API suite does not answer with each of their success statuses, each with its reason.
UNEXERCISED: dict[tuple[str, str], str] = {}

# (method, path template) -> {status: replies checked}; the unknown routes under (method, None).
seen: defaultdict[tuple[str, str | None], defaultdict[int, int]] = defaultdict(lambda: defaultdict(int))
_validators: dict[tuple[str, str, int], jsonschema_rs.Validator | None] = {}
_routes: list[tuple[re.Pattern, str]] = []


def closed(schema):
    """A copy of `schema` where every object that does not say otherwise refuses undeclared
    properties, and every property named as an id (ID_PATTERNS) has that id's shape."""
    schema = copy.deepcopy(schema)
    _close(schema)
    return schema


def _close(node, name=None):
    if isinstance(node, list):
        for item in node:
            _close(item, name)
        return
    if not isinstance(node, dict):
        return
    types = node.get("type")
    types = types if isinstance(types, list) else [types]
    if ("object" in types or "properties" in node) and "additionalProperties" not in node:
        node["additionalProperties"] = False
    if name in ID_PATTERNS and "string" in types:
        node["pattern"] = f"^{ID_PATTERNS[name]}$"
    for key in ("properties", "$defs"):
        for child_name, child in node.get(key, {}).items():
            _close(child, child_name)
    for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "prefixItems"):
        if key in node:
            _close(node[key], name if key in ("anyOf", "oneOf", "allOf") else None)


def template_of(path):
    """The document's path template `path` (without its query) falls under, literal paths first."""
    if not _routes:
        templates = sorted(openapi.document()["paths"], key=lambda t: (t.count("{"), t))
        _routes.extend((re.compile("/".join("[^/]+" if part.startswith("{") else re.escape(part)
                                            for part in t.split("/")) + r"\Z"), t) for t in templates)
    bare = path.split("?", 1)[0]
    return next((t for pattern, t in _routes if pattern.match(bare)), None)


def _validator(method, template, status):
    key = (method, template, status)
    if key not in _validators:
        response = openapi.document()["paths"][template][method.lower()]["responses"].get(str(status))
        if response is None:
            _validators[key] = None
        else:
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            _validators[key] = jsonschema_rs.Draft202012Validator(closed(schema), validate_formats=True) if schema else None
    return _validators[key]


def _unknown_route(method, path, reply, template):
    """No operation: an unknown path is 404 not_found, another method of a known path 405
    method_not_allowed, in the error envelope (SPEC §5); a CORS preflight has no body."""
    if method == "OPTIONS":
        assert reply.status in (200, 204) and not reply.body, (method, path, reply)
        return
    expected = (404, "not_found") if template is None else (405, "method_not_allowed")
    assert (reply.status, reply.code) == expected, f"{method} {path}: no operation in /openapi.json answers {reply}"
    jsonschema_rs.Draft202012Validator(closed(openapi._error_schema({expected[1]}))).validate(reply.body)


def check_reply(method, path, reply):
    """Fails (AssertionError) unless `reply` is what the document declares for this request."""
    method = method.upper()
    template = template_of(path)
    operations = openapi.document()["paths"].get(template, {}) if template else {}
    if method.lower() not in operations:
        seen[(method, None)][reply.status] += 1
        _unknown_route(method, path, reply, template)
        return
    seen[(method, template)][reply.status] += 1
    declared = operations[method.lower()]["responses"]
    name = f"{method} {template}"
    assert str(reply.status) in declared, f"{name} answered {reply.status}, which /openapi.json does not declare: {reply}"
    validator = _validator(method, template, reply.status)
    if validator is None:
        assert reply.body is None, f"{name} {reply.status} declares no body but sent {reply}"
        return
    errors = [f"{'/'.join(map(str, e.instance_path)) or '(the body)'}: {e.message}" for e in validator.iter_errors(reply.body)]
    assert not errors, f"{name} {reply.status} against the closed schema of /openapi.json: {'; '.join(errors[:5])}; {reply}"
    if reply.status in (429, 503):
        assert "retry-after" in reply.headers, f"{name} {reply.status} without Retry-After: {reply}"


def successes(op):
    """The success statuses the document declares for an operation (its `paths` item)."""
    return {int(status) for status in op["responses"] if int(status) < 400}


def unexercised():
    """Each success status of each operation of the document that no reply had (but for
    UNEXERCISED): the schema nothing checked. A repeated confirmation's 200 counts too."""
    missing = []
    for template, item in openapi.document()["paths"].items():
        for method, op in item.items():
            key = (method.upper(), template)
            if key not in UNEXERCISED:
                missing += [f"{method.upper()} {template} {status}" for status in sorted(successes(op) - set(seen.get(key, {})))]
    return missing


def summary():
    """One line per operation: the statuses of the replies checked, and how many."""
    lines = []
    for (method, template), statuses in sorted(seen.items(), key=lambda kv: (kv[0][1] or "", kv[0][0])):
        counts = ", ".join(f"{status}x{n}" for status, n in sorted(statuses.items()))
        lines.append(f"{method:6} {template or '(no operation)'}: {counts}")
    return lines
