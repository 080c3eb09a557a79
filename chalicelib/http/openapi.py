"""The OpenAPI 3.1 document served at GET /openapi.json, built from chalicelib/http/contract.py and the codes (chalicelib/rules/codes.py)."""
from typing import Any

from chalicelib.http import contract
from chalicelib.http.responses import EXAMPLES
from chalicelib.http.schema import JsonSchema
from chalicelib.rules.codes import CODES

_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    contract.PARTNER_KEY: [{"partnerKey": []}],
    contract.AGENT: [{"staffToken": []}],
    contract.ADMIN: [{"staffToken": []}],
}
_TAGS = {contract.PUBLIC: "Applicants", contract.PARTNER_KEY: "Partners", contract.AGENT: "Staff", contract.ADMIN: "Staff"}
_DESCRIPTION = """fairslot books prefecture appointments so that reselling them is pointless: a booking is
bound to the applicant's identity (checked at the counter), freed slots come back after a random
quarantine, and scarce procedures are allocated by a verifiable draw.

Every error answers `{"error": {"code", "message", "details"}}`; `code` is one of the values listed
for each response, `details.field` names the field of a 422, and 429 and 503 carry `Retry-After`.
Partners authenticate with `x-api-key`; staff with a bearer JWT whose `cognito:groups` holds
`agents` or `admins`. Ids and tokens are opaque (the examples show their current shapes); an answer
may gain fields over time: ignore those you do not know."""

_SUCCESS = {200: "OK", 201: "Created", 202: "Accepted"}

_cached: dict[str, Any] | None = None


def _error_schema(codes: set[str]) -> JsonSchema:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "enum": sorted(codes)},
                "message": {"type": "string"},
                "details": {"type": "object", "properties": {"field": {
                    "type": "string", "description": "The field at fault (422), as a dotted path: applicant.document.number."}}},
            },
        }},
    }


def _error_responses(op: contract.Operation) -> dict[str, Any]:
    by_status: dict[int, set[str]] = {}
    for code in contract.codes_of(op):
        by_status.setdefault(CODES[code].status, set()).add(code)
    responses = {}
    for status, codes in sorted(by_status.items()):
        example = sorted(codes)[0]
        response = {
            "description": ", ".join(sorted(codes)),
            "content": {"application/json": {
                "schema": _error_schema(codes),
                "example": {"error": {"code": example, "message": CODES[example].en,
                                      "details": {"field": "limit"} if example == "invalid_field" else {}}},
            }},
        }
        if status in (429, 503):
            response["headers"] = {"Retry-After": {"description": "Seconds to wait before retrying.",
                                                   "schema": {"type": "integer"}}}
        responses[str(status)] = response
    return responses


def _parameters(op: contract.Operation) -> list[dict[str, Any]]:
    params = [{"name": name, "in": "path", "required": True,
               "schema": {"type": "string", "minLength": 1, "maxLength": contract.MAX_PATH_ID},
               **({"example": EXAMPLES[name]} if name in EXAMPLES else {})}
              for name in op.path_params]
    for name, (schema, required) in op.query.items():
        params.append({"name": name, "in": "query", "required": required, "schema": schema.schema()})
    for name, description in op.headers.items():
        params.append({"name": name, "in": "header", "required": False, "description": description,
                       "schema": {"type": "string", "maxLength": 200}})
    return params


def _operation(op: contract.Operation) -> dict[str, Any]:
    out: dict[str, Any] = {
        "operationId": f"{op.method.lower()}{op.path.replace('/', '_').replace('{', '').replace('}', '').replace('-', '_').replace('.', '_')}",
        "summary": op.summary,
        "tags": [_TAGS[op.auth]],
        "parameters": _parameters(op),
        "responses": {},
    }
    if op.auth in _SECURITY:
        out["security"] = _SECURITY[op.auth]
    if op.body is not None:
        out["requestBody"] = {"required": not op.body_optional, "content": {"application/json": {"schema": op.body.schema()}}}
    for status in (op.status, *op.also_status):
        if status == 204:
            out["responses"]["204"] = {"description": "Done."}
        else:
            assert op.response is not None, f"{op.method} {op.path}: declare its answer (chalicelib/http/responses.py)"
            out["responses"][str(status)] = {"description": _SUCCESS[status],
                                             "content": {"application/json": {"schema": op.response}}}
    out["responses"].update(_error_responses(op))
    return out


def document() -> dict[str, Any]:
    """The document (built once per process: it only depends on code)."""
    global _cached
    if _cached is None:
        paths: dict[str, dict] = {}
        for op in contract.OPERATIONS:
            paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
        _cached = {
            "openapi": "3.1.0",
            "info": {"title": "fairslot API", "version": "1.0.0", "description": _DESCRIPTION},
            "tags": [{"name": "Applicants"}, {"name": "Partners"}, {"name": "Staff"}],
            "paths": paths,
            "components": {"securitySchemes": {
                "partnerKey": {"type": "apiKey", "in": "header", "name": "x-api-key",
                               "description": "The partner's API key (POST /staff/partners shows it once)."},
                "staffToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "A Cognito ID token whose cognito:groups holds agents or admins."},
            }},
        }
    return _cached
