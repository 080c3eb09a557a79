"""The names vulture cannot see used, each with the reason it is (read by `make vulture`, never imported).

vulture marks a name used when it reads it anywhere, so each line below is an attribute read of
that name. Route handlers need no line: Chalice calls what its decorators register, and the
Makefile passes those decorators to --ignore-decorators. This list is complete at
--min-confidence 60 too (`make vulture VULTURE_CONFIDENCE=60`), so a lower sweep shows only new
candidates. A name goes here with its reason, or its code goes.
"""
# ruff: noqa: F821, B018  -- `_` stands for any object: vulture only reads the names

# --- read by the libraries we subclass or hand objects to ----------------------------------------
_.CODE  # chalice local reads a LocalGatewayException's CODE as the status (devlocal/api_server.py)
_.__getattr__  # set on chalice local's handler class: every do_<METHOD> goes to one handler (devlocal/api_server.py)
_.request_queue_size  # socketserver's listen backlog (devlocal/api_server.py)
_.disable_nagle_algorithm  # http.server's StreamRequestHandler sets TCP_NODELAY from it (devlocal)
_.log_request  # BaseHTTPRequestHandler's hook, overridden to silence moto's log (devlocal/engine.py)
_.memory_limit_in_mb  # part of the Lambda context a handler may read (devlocal/streams.py)
_.get_remaining_time_in_millis  # part of the Lambda context a handler may read (devlocal/streams.py)
_.external_attr  # zipfile writes it as the member's permissions (infra/slim_package.py)
_.compress_type  # zipfile compresses the member with it (infra/slim_package.py)

# --- PynamoDB attributes: written and read by name, not as Python attributes ---------------------
_.quarantined  # Figures counter, added by name from FIGURE_NAMES (chalicelib/storage/figures.py)
_.attended  # Figures counter, added by name from FIGURE_NAMES
_.closed  # Figures counter, added by name from FIGURE_NAMES
_.counter_key  # Counter's hash key: PynamoDB builds the item's key from it (chalicelib/storage/models.py)

# --- hooks for the tests (read under tests/, which vulture does not scan) ------------------------
_.advance  # chalicelib/platform/clock.py: in-process tests move time forward
_.tracked_instances  # devlocal/serial_moto.py: tests/engine/test_serial_moto.py checks moto keeps no instance
_.AGGREGATES  # chalicelib/storage/__init__.py: tests/api/test_dynamodb_faults.py walks every aggregate module
_.storage_guarded  # chalicelib/storage/calls.py: the same test checks every public function is guarded

# --- owned by the parse-once/registry/storage change (in progress elsewhere): dead there today ----
_.NUMBER  # owned by the parse-once/registry/storage change: chalicelib/http/contract.py, unused schema
_.NO_CONTENT  # owned by the parse-once/registry/storage change: chalicelib/http/contract.py, unused
_.status_of  # owned by the parse-once/registry/storage change: chalicelib/http/error_catalogue.py, unused

# --- names only type annotations read ------------------------------------------------------------
_.excluded_slots  # a key of the TypedDict lottery.Entrant: read as entrant["excluded_slots"], which vulture does not follow
DataclassInstance  # typeshed's protocol of dataclasses, imported under TYPE_CHECKING and read in string annotations (chalicelib/storage/values.py)

# --- the identity registry's port (SPEC R10): its caller, the verification use case, is being built beside it ---
Registry  # chalicelib/platform/registry.py: the port's Protocol, read in the use case's annotations
_.find  # chalicelib/platform/registry.py, registry_http.py: the port's one method, called by the verification use case
_.from_environment  # chalicelib/platform/registry_http.py: the registry's current() calls it (docs/identity-registry.md)
