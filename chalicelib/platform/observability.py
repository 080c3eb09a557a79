"""Observability: structured logs without personal data, EMF metrics and optional X-Ray tracing.

Importing this module is free: aws_lambda_powertools is imported on first use, never at import
time, so it does not count against the cold start of `import app`.

    from chalicelib.platform import observability
    observability.install(app)             # once, in app.py, before any other middleware
    observability.metric("HoldCreated", site=site_id)
    observability.logger().info("hold refused", extra={"reason": "cooldown"})

Metric names and dimensions are listed in docs/metrics.md; CloudWatch alarms in
infra/resources.yaml depend on them, so rename nothing without changing both.
"""
from __future__ import annotations  # Logger and Tracer name types for mypy only (see TYPE_CHECKING below)

import logging
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from chalicelib.platform import config

if TYPE_CHECKING:  # imported on first use, never at import (cold start)
    from aws_lambda_powertools import Logger, Tracer

NAMESPACE = "fairslot"
SERVICE = "fairslot"

# Keys whose values are personal data or secrets. Compared after lower-casing and turning "-" into
# "_", at any depth of a log record (dicts, lists, `extra=`, appended keys).
REDACTED_KEYS = frozenset(
    {
        "document",
        "document_number",
        "number",
        "email",
        "e_mail",
        "family_name",
        "given_names",
        "given_name",
        "first_name",
        "last_name",
        "phone",
        "birth_date",
        "date_of_birth",
        "applicant",
        "client_ip",
        "source_ip",
        "sourceip",
        "ip",
        "x_forwarded_for",
        "authorization",
        "x_api_key",
        "api_key",
        "hold_token",
        "booking_token",
        "request_token",
        "x_hold_token",
        "x_booking_token",
        "x_request_token",
        "token",
        "password",
        "secret",
    }
)
REDACTED = "***"
_EMAIL: re.Pattern[str] | None = None  # compiled on first use


def _email_re() -> re.Pattern[str]:
    global _EMAIL
    if _EMAIL is None:
        _EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
    return _EMAIL


def _is_personal_key(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in REDACTED_KEYS


def redact(value: object, _depth: int = 0) -> Any:
    """A copy of `value` with personal data replaced by "***": values of REDACTED_KEYS at any depth
    and anything that looks like an e-mail address inside any string."""
    if _depth > 20:
        return REDACTED
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, dict):
        return _redact_fields(value, _depth)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact(v, _depth + 1) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    # Anything else (an exception, a datetime, a model) would be serialised with str(): do it
    # here so that the text is redacted too.
    try:
        return redact(str(value), _depth + 1)
    except Exception:  # noqa: BLE001
        return REDACTED


def _redact_text(text: str) -> str:
    """The text with anything that looks like an e-mail address replaced."""
    return _email_re().sub(REDACTED, text) if "@" in text else text


def _redact_fields(record: Mapping[Any, object], depth: int) -> dict[Any, Any]:
    """The values of personal keys replaced (a None left as is), every other value redacted in turn."""
    return {
        k: (REDACTED if _is_personal_key(k) and v is not None else redact(v, depth + 1))
        for k, v in record.items()
    }


# --- logging -------------------------------------------------------------------------------------

_logger: Logger | None = None
_logger_lock = threading.Lock()


def logger() -> Logger:
    """The service's Powertools Logger (JSON to stdout, service "fairslot"), created on first use.

    Its formatter redacts personal data from every record. It shares the logging.Logger named
    "fairslot" with Chalice's `app.log`, whose plain-text handler is removed so that Chalice's own
    messages (unhandled exceptions included) go through the same redacting JSON formatter.
    """
    global _logger
    if _logger is None:
        with _logger_lock:
            if _logger is None:
                _logger = _build_logger()
    return _logger


def _build_logger() -> Logger:
    from aws_lambda_powertools import Logger  # cold start: Powertools loads on the first log line
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter  # cold start: with the logger

    class RedactingFormatter(LambdaPowertoolsFormatter):
        def serialize(self, log: Mapping[str, Any]) -> str:
            return super().serialize(redact(log))

    std = logging.getLogger(SERVICE)
    for handler in list(std.handlers):
        if getattr(std, "powertools_handler", None) is not handler:
            std.removeHandler(handler)  # Chalice's plain-text handler: it would bypass redaction
    built = Logger(service=SERVICE, logger_formatter=RedactingFormatter(), utc=True)
    return built


# --- metrics -------------------------------------------------------------------------------------

_state = threading.local()  # .buffer: list of (name, value, dimensions) while a request runs
_Metric = tuple[str, float, dict[str, str]]  # (name, value, dimensions)


def metric(name: str, value: float = 1, **dimensions: object) -> None:
    """Count `value` of metric `name` in namespace "fairslot" (EMF, unit Count).

    Inside an invocation wrapped by install() the metric is buffered and flushed once when the
    invocation ends; outside one it is written at once. Dimensions are optional (`site=...`);
    every metric is also published without them (dimensions `service` and `stage` only), which
    is what the alarms use. Never raises: observability must not break a booking.
    """
    try:
        if not isinstance(name, str) or not name or isinstance(value, bool):
            return
        value = float(value)
        dims = _published_dimensions(dimensions)
        buffer = getattr(_state, "buffer", None)
        if buffer is not None:
            buffer.append((name, value, dims))
        else:
            _emit([(name, value, dims)])
    except Exception:  # noqa: BLE001 - see docstring
        pass


def _published_dimensions(dimensions: Mapping[str, object]) -> dict[str, str]:
    """The caller's dimensions a metric may carry: those with a value, and no personal data."""
    return {
        str(k): str(v)
        for k, v in dimensions.items()
        if v is not None
        and str(v).strip()
        and not _is_personal_key(k)
        and k not in ("service", "stage")  # set by _emit, not by callers
    }


def flush() -> None:
    """Write the metrics buffered by this invocation (the middleware calls it). Never raises."""
    buffer = getattr(_state, "buffer", None)
    _state.buffer = None
    if buffer:
        try:
            _emit(buffer)
        except Exception:  # noqa: BLE001
            pass


def _emit(records: Iterable[_Metric]) -> None:
    """Write EMF blobs to stdout: one per distinct dimension set, each with two dimension
    arrays, ["service", "stage"] and ["service", "stage", <dimensions>...] ("stage" only when
    FAIRSLOT_STAGE is set, as it is in AWS). Locally (FAIRSLOT_LOCAL=1) nothing."""
    settings = config.current()
    if settings.local:
        return
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit  # cold start: on the first metric

    # One namespace for every stage: the stage dimension keeps dev from paging prod when both
    # live in one account.
    base = {"service": SERVICE}
    if settings.stage:
        base["stage"] = settings.stage
    groups: dict[tuple[tuple[str, str], ...], list[tuple[str, float]]] = {}
    for name, value, dimensions in records:
        groups.setdefault(tuple(sorted(dimensions.items())), []).append((name, value))
    for dims, values in groups.items():
        emf = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
        for key, label in base.items():
            emf.add_dimension(key, label)
        if dims:
            emf.add_dimensions(**base, **dict(dims))
        for name, value in values:
            emf.add_metric(name=name, unit=MetricUnit.Count, value=value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            emf.flush_metrics()


# --- middleware ----------------------------------------------------------------------------------

_cold_start = True

# Chalice's middleware events and get_response, seen here through what they carry (the platform never imports Chalice).
_Event = Any
_GetResponse = Callable[[Any], Any]


def install(app: Any) -> Any:
    """Register fairslot's middleware on a Chalice app, for every event type, outermost first:
    logging context (request ids, one access line per HTTP request), metric flush, then X-Ray
    (only when POWERTOOLS_TRACE_DISABLED is not "true" and the X-Ray SDK is installed).
    Call it before registering any other middleware so that logging stays outermost."""
    app.register_middleware(_logging_middleware, "all")
    app.register_middleware(_metrics_middleware, "all")
    if config.current().tracing:  # at import, from app.py's one import-time read of the settings
        app.register_middleware(_tracing_middleware, "all")
    return app


def _request_keys(event: _Event) -> dict[str, Any]:
    global _cold_start
    keys: dict[str, object] = {"cold_start": _cold_start}
    _cold_start = False
    lambda_context = getattr(event, "lambda_context", None) or getattr(event, "context", None)
    aws_request_id = getattr(lambda_context, "aws_request_id", None)
    if aws_request_id:
        keys["lambda_request_id"] = aws_request_id
    request_context = getattr(event, "context", None)
    if isinstance(request_context, dict):  # an HTTP request: API Gateway's requestContext
        keys["request_id"] = request_context.get("requestId")
        keys["route"] = request_context.get("resourcePath")
        keys["method"] = getattr(event, "method", None)
    else:
        keys["event"] = type(event).__name__
    return {k: v for k, v in keys.items() if v is not None}


def _logging_middleware(event: _Event, get_response: _GetResponse) -> Any:
    try:
        log = logger()
        keys = _request_keys(event)
        log.thread_safe_append_keys(**keys)
        if keys.get("request_id"):
            log.set_correlation_id(keys["request_id"])
    except Exception:  # noqa: BLE001 - never let logging break a request
        log, keys = None, {}
    started = time.perf_counter()
    status = None
    try:
        response = get_response(event)
        status = getattr(response, "status_code", None)
        return response
    finally:
        if log is not None:
            try:
                if "route" in keys:
                    log.info(
                        "request",
                        extra={
                            "status_code": status if status is not None else 500,
                            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                        },
                    )
                log.thread_safe_clear_keys()
                log.set_correlation_id(None)
            except Exception:  # noqa: BLE001
                pass


# A scheduled run or a stream batch that raises is counted, whatever the handler: the
# ScheduledRunsFailedAlarm in infra/resources.yaml needs no list of functions.
_FAILURE_METRICS = {"CloudWatchEvent": "ScheduledRunFailed", "DynamoDBEvent": "StreamBatchFailed"}


def _metrics_middleware(event: _Event, get_response: _GetResponse) -> Any:
    _state.buffer = []
    try:
        return get_response(event)
    except Exception:
        failure = _FAILURE_METRICS.get(type(event).__name__)
        if failure:
            function = getattr(getattr(event, "context", None), "function_name", None)
            metric(failure, function=function)
        raise
    finally:
        flush()


_tracer: Tracer | Literal[False] | None = None  # a Powertools Tracer once asked for; False when tracing is unavailable


def _get_tracer() -> Tracer | Literal[False]:
    """Powertools Tracer, or False when the X-Ray SDK is not packaged (see docs/deploy.md)."""
    global _tracer
    if _tracer is None:
        try:
            from aws_lambda_powertools import Tracer  # cold start: only where tracing is on

            _tracer = Tracer(service=SERVICE)
        except Exception:  # noqa: BLE001 - ImportError of aws_xray_sdk, mostly
            _tracer = False
            try:
                logger().warning("tracing requested but unavailable; is aws-xray-sdk packaged?")
            except Exception:  # noqa: BLE001
                pass
    return _tracer


def _tracing_middleware(event: _Event, get_response: _GetResponse) -> Any:
    tracer = _get_tracer()
    if not tracer:
        return get_response(event)
    request_context = getattr(event, "context", None)
    if isinstance(request_context, dict):
        annotations = {"route": request_context.get("resourcePath"), "method": event.method}
        name = f"## {event.method} {annotations['route']}"
    else:
        annotations, name = {}, f"## {type(event).__name__}"
    # Request and response bodies carry personal data: they are never added as metadata.
    with tracer.provider.in_subsegment(name) as subsegment:
        for key, value in annotations.items():
            if value:
                subsegment.put_annotation(key, value)
        response = get_response(event)
        status = getattr(response, "status_code", None)
        if status is not None:
            subsegment.put_annotation("status_code", status)
        return response


__all__ = ["install", "metric", "flush", "logger", "redact", "NAMESPACE", "SERVICE"]
