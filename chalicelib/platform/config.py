"""Configuration: every environment variable fairslot reads, read here and nowhere else.

Read at call time: code asks `config.current()` where it uses a value and never keeps the result
in a module-level name, so a changed environment (a test's `monkeypatch.setenv`) applies at the
next call. `current()` rebuilds the Settings only when one of VARIABLES changed; otherwise it costs
one pass over the environment (_snapshot). app.py makes the one import-time read (a deployed
function refuses to start without its staff and CORS settings; Chalice needs the bookings
stream's ARN when it registers the handler).

Variables read by libraries themselves stay theirs and are not listed here: Powertools'
POWERTOOLS_* (service name, log level, metrics namespace; POWERTOOLS_TRACE_DISABLED is also read
here, to decide whether to install tracing), botocore's AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/
AWS_SESSION_TOKEN, the Lambda runtime's AWS_LAMBDA_* (only AWS_LAMBDA_FUNCTION_NAME is read here).
"""
import os
from dataclasses import dataclass
from typing import TypeVar, overload

Default = TypeVar("Default")

# One key per purpose (chalicelib/platform/keys.py, whose PURPOSES name these): each variable holds
# its key ring as text (locally, in tests), or <name>_PARAM names the SSM parameter holding it (AWS).
KEY_VARIABLES = ("IDENTITY_KEY", "SLOT_ID_KEY", "LINK_KEY", "OFFER_KEY", "CURSOR_KEY", "CODE_KEY", "IDENTITY_TOKEN_KEY")

# Every variable _load may read, in one list: _load sees only these (_Environment), so a name it
# reads but this list lacks fails at the first call instead of escaping the cache key.
VARIABLES = (
    "AWS_LAMBDA_FUNCTION_NAME", "FAIRSLOT_LOCAL", "FAIRSLOT_STAGE", "POWERTOOLS_TRACE_DISABLED",
    "TABLE_PREFIX", "AWS_REGION", "AWS_DEFAULT_REGION", "DYNAMODB_ENDPOINT",
    "DYNAMODB_READ_TIMEOUT_SECONDS", "DYNAMODB_MAX_RETRIES", "STORAGE_ATTEMPTS",
    "KEY_ROOT", "KEY_CACHE_SECONDS", *KEY_VARIABLES, *(f"{name}_PARAM" for name in KEY_VARIABLES),
    "IDENTITY_REGISTRY_URL", "IDENTITY_REGISTRY_KEY", "IDENTITY_REGISTRY_KEY_PARAM", "IDENTITY_REGISTRY_TIMEOUT_MS",
    "IDENTITY_REGISTRY_ATTEMPTS", "IDENTITY_REGISTRY_BREAKER_FAILURES", "IDENTITY_REGISTRY_BREAKER_SECONDS",
    "STAFF_JWT_SECRET", "STAFF_JWT_ISSUER", "STAFF_JWKS_URL", "STAFF_JWT_AUDIENCE", "CORS_ORIGINS",
    "PERSONAL_DATA_RETENTION_DAYS", "CATALOG_CACHE_SECONDS", "STANDBY_CACHE_SECONDS",
    "PARTNER_KEY_CACHE_SECONDS", "PARTNER_USAGE_PLAN_ID", "PARTNER_USAGE_PLAN_PARAM",
    "DRAW_SEED_KMS_KEY_ID", "DRAW_SEED_KEY", "DRAW_FUNCTION_NAME",
    "OUTBOX_DIR", "MAIL_FROM", "WEB_BASE_URL", "REMINDER_LEAD_DAYS", "BOOKINGS_STREAM_ARN",
    "DRAW_LEASE_SECONDS", "DRAW_STAFF_BUDGET_SECONDS", "DRAW_TICK_BUDGET_SECONDS",
    "LOOKUP_MAX_PER_IP_PER_HOUR", "LOOKUP_LINK_INTERVAL_SECONDS",
    "DEFAULT_HOLD_TTL_SECONDS", "DEFAULT_QUARANTINE_MIN_SECONDS", "DEFAULT_QUARANTINE_MAX_SECONDS",
    "DEFAULT_COOLDOWN_SECONDS", "DEFAULT_ALLOCATION", "DEFAULT_PUBLISH_WINDOW_SECONDS",
    "DEFAULT_DRAW_INTERVAL_SECONDS", "DEFAULT_OFFER_TTL_SECONDS", "DEFAULT_PARTNER_SHARE",
    "DEFAULT_MAX_HOLDS_PER_IP_PER_HOUR", "DEFAULT_ACCEPTED_DOCUMENTS", "DEFAULT_ACCEPTED_DOCUMENTS_BY_PROCEDURE",
    "DEFAULT_IDENTITY_CHECK", "DEFAULT_IDENTITY_CHECK_BY_PROCEDURE", "IDENTITY_REGISTRY_FILE",
    "VERIFICATION_MAX_PER_IP_PER_HOUR", "VERIFICATION_MAX_PER_IDENTITY_PER_HOUR",
)


class _Environment:
    """The values of VARIABLES at one instant (None: unset), the only environment _load sees."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, str | None]) -> None:
        self._values = values

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: Default) -> str | Default: ...
    def get(self, name: str, default: object = None) -> object:
        try:
            value = self._values[name]
        except KeyError:
            raise LookupError(f"config._load reads {name}, which config.VARIABLES does not list") from None
        return default if value is None else value


_NAMES = frozenset(VARIABLES)


def _snapshot() -> list[tuple[str, str]]:
    """What VARIABLES hold now, as current()'s cache key: the set ones among os.environ's items.

    One pass over the environment (a few dozen names) through its public mapping: tens of
    microseconds, about 60 % of asking os.environ.get for each of VARIABLES, most of them unset
    (each miss raises and catches KeyError twice); CPython's private encoded copy would take two.
    Only VARIABLES count: the Lambda runtime rewrites _X_AMZN_TRACE_ID at every invocation, which
    must not rebuild the Settings."""
    return [item for item in os.environ.items() if item[0] in _NAMES]


def _environment() -> "_Environment":
    """The values of VARIABLES now (None: unset), as the only environment _load sees."""
    return _Environment({name: os.environ.get(name) for name in VARIABLES})


def _optional(env: _Environment, name: str) -> str | None:
    """The variable's value, None when it is unset or empty."""
    return env.get(name) or None


@dataclass(frozen=True)
class RegistrySettings:
    """The prefecture's registry over HTTP (docs/identity-registry.md): its URL (unset: not over
    HTTP), its key (or the SSM parameter holding it), and how long and how often to try."""
    url: str | None
    key: str | None
    key_param: str | None
    timeout_seconds: float
    attempts: int
    breaker_failures: int
    breaker_seconds: int


def _registry(env: _Environment) -> RegistrySettings:
    return RegistrySettings(
        url=_optional(env, "IDENTITY_REGISTRY_URL"), key=_optional(env, "IDENTITY_REGISTRY_KEY"),
        key_param=_optional(env, "IDENTITY_REGISTRY_KEY_PARAM"),
        # Per attempt; three attempts and their pauses stay within a few seconds of the API's 15.
        timeout_seconds=_int(env, "IDENTITY_REGISTRY_TIMEOUT_MS", 2000) / 1000,
        attempts=max(1, _int(env, "IDENTITY_REGISTRY_ATTEMPTS", 3)),
        breaker_failures=max(1, _int(env, "IDENTITY_REGISTRY_BREAKER_FAILURES", 5)),
        breaker_seconds=_int(env, "IDENTITY_REGISTRY_BREAKER_SECONDS", 30))


def _int(env: _Environment, name: str, default: int) -> int:
    return int(env.get(name, default))


def _list(env: _Environment, name: str, default: str) -> list[str]:
    return [v.strip() for v in env.get(name, default).split(",") if v.strip()]


def _documents_by_procedure(env: _Environment, name: str, default: str) -> dict[str, tuple[str, ...]]:
    """Parses `renewal:agdref;other:agdref|passport` into {procedure id: (document types, ...)}."""
    out = {}
    for entry in env.get(name, default).split(";"):
        procedure, _, types = entry.partition(":")
        if procedure.strip():
            out[procedure.strip()] = tuple(t.strip() for t in types.split("|") if t.strip())
    return out


class ConfigurationError(RuntimeError):
    """A deployed function refuses to start without a setting it cannot work safely without."""


def _in_aws(env: _Environment) -> bool:
    """True in a Lambda function (the runtime always sets AWS_LAMBDA_FUNCTION_NAME), never locally."""
    return bool(env.get("AWS_LAMBDA_FUNCTION_NAME")) and env.get("FAIRSLOT_LOCAL") != "1"


# Only outside AWS: a deployed stage names its web app's origins (docs/deploy.md, CorsOrigins).
_LOCAL_CORS_ORIGINS = "http://127.0.0.1:8080,http://localhost:8080"


# Stream ARNs that infra/package.py replaces with `!GetAtt <table>.StreamArn` (the table's
# logical id in infra/resources.yaml): the tables are created by the stack the handlers are in.
_BOOKINGS_STREAM_PLACEHOLDER = "arn:aws:dynamodb:eu-west-3:000000000000:table/fairslot-bookings/stream/set-by-infra-package"
STREAM_ARN_PLACEHOLDERS = {_BOOKINGS_STREAM_PLACEHOLDER: "BookingsTable"}


@dataclass(frozen=True)
class Settings:
    table_prefix: str
    region: str
    dynamodb_endpoint: str | None
    key_root: str | None
    key_rings: dict
    key_params: dict
    key_cache_seconds: int
    registry: "RegistrySettings"
    staff_jwt_secret: str | None
    staff_jwt_issuer: str | None
    staff_jwks_url: str | None
    staff_jwt_audience: str | None
    cors_origins: list
    personal_data_retention_days: int
    catalog_cache_seconds: int
    standby_cache_seconds: int
    policy_defaults: dict
    local: bool
    dynamodb_read_timeout_seconds: int
    dynamodb_max_retries: int
    storage_attempts: int
    partner_key_cache_seconds: int
    partner_usage_plan_id: str | None
    partner_usage_plan_param: str | None
    outbox_dir: str | None
    mail_from: str
    bookings_stream_arn: str
    reminder_lead_days: int
    procedure_policy_defaults: dict
    draw_lease_seconds: int
    draw_staff_budget_seconds: int
    draw_tick_budget_seconds: int
    web_base_url: str
    lookup_max_per_ip_per_hour: int
    lookup_link_interval_seconds: int
    in_aws: bool
    stage: str
    draw_seed_kms_key_id: str | None
    draw_seed_key: str | None
    draw_function_name: str | None
    tracing: bool
    identity_registry_file: str | None
    verification_max_per_ip_per_hour: int
    verification_max_per_identity_per_hour: int


def _tracing(env: _Environment) -> bool:
    """X-Ray through Powertools: never locally, and not when Powertools' own switch says so."""
    return env.get("FAIRSLOT_LOCAL") != "1" and env.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() not in ("true", "1")


def _local_outbox(env: _Environment) -> str | None:
    return os.path.join("var", "outbox") if env.get("FAIRSLOT_LOCAL") == "1" else None


def _load(env: _Environment) -> Settings:
    return Settings(
        table_prefix=env.get("TABLE_PREFIX", "fairslot-dev"),
        region=env.get("AWS_REGION", env.get("AWS_DEFAULT_REGION", "eu-west-3")),
        dynamodb_endpoint=_optional(env, "DYNAMODB_ENDPOINT"),
        # Keys (chalicelib/platform/keys.py): per purpose a ring given as text (local, tests) or the
        # SSM parameter holding it (AWS); else, outside AWS, each purpose's v1 derived from KEY_ROOT.
        key_root=_optional(env, "KEY_ROOT"),
        key_rings={name: env.get(name) for name in KEY_VARIABLES if env.get(name)},
        key_params={name: env.get(f"{name}_PARAM") for name in KEY_VARIABLES if env.get(f"{name}_PARAM")},
        # How long a process keeps a ring before reading its parameter again: the delay after
        # which every warm function sees a rotation step (docs/deploy.md, "Rotating a key").
        key_cache_seconds=_int(env, "KEY_CACHE_SECONDS", 300),
        registry=_registry(env),
        staff_jwt_secret=_optional(env, "STAFF_JWT_SECRET"),
        staff_jwt_issuer=_optional(env, "STAFF_JWT_ISSUER"),
        staff_jwks_url=_optional(env, "STAFF_JWKS_URL"),
        staff_jwt_audience=_optional(env, "STAFF_JWT_AUDIENCE"),
        cors_origins=_list(env, "CORS_ORIGINS", "" if _in_aws(env) else _LOCAL_CORS_ORIGINS),
        personal_data_retention_days=_int(env, "PERSONAL_DATA_RETENTION_DAYS", 90),
        catalog_cache_seconds=_int(env, "CATALOG_CACHE_SECONDS", 30),
        # How long a process trusts its view of which days standby requests cover (auto allocation).
        standby_cache_seconds=_int(env, "STANDBY_CACHE_SECONDS", 5),
        local=env.get("FAIRSLOT_LOCAL") == "1",
        in_aws=_in_aws(env),
        # The stage a deployed function belongs to (dev, prod): the metrics' "stage" dimension.
        stage=env.get("FAIRSLOT_STAGE", "").strip(),
        tracing=_tracing(env),
        # Fail fast and let the client retry (503 + Retry-After): API Gateway allows 29 s.
        dynamodb_read_timeout_seconds=_int(env, "DYNAMODB_READ_TIMEOUT_SECONDS", 3),
        dynamodb_max_retries=_int(env, "DYNAMODB_MAX_RETRIES", 2),
        # Throttling and transaction conflicts: tries per DynamoDB call (storage.py), then 503.
        storage_attempts=_int(env, "STORAGE_ATTEMPTS", 4),
        # Partners and notifications (DEVELOPERS.md, "Partners, staff work, audit trail, notifications").
        partner_key_cache_seconds=_int(env, "PARTNER_KEY_CACHE_SECONDS", 0),
        # API Gateway's partner usage plan (chalicelib/platform/gateway_keys.py): its id, or the SSM
        # parameter holding it (what the stack sets). Neither: partners are not registered there.
        partner_usage_plan_id=_optional(env, "PARTNER_USAGE_PLAN_ID"),
        partner_usage_plan_param=_optional(env, "PARTNER_USAGE_PLAN_PARAM"),
        # Locally (and whenever set) e-mails are written as .eml files here instead of sent by SES.
        outbox_dir=_optional(env, "OUTBOX_DIR") or _local_outbox(env),
        mail_from=env.get("MAIL_FROM", "rendez-vous@fairslot.example"),
        # Chalice needs the ARN when packaging; infra/package.py points the placeholder at the
        # stack's own bookings table.
        bookings_stream_arn=env.get("BOOKINGS_STREAM_ARN") or _BOOKINGS_STREAM_PLACEHOLDER,
        reminder_lead_days=_int(env, "REMINDER_LEAD_DAYS", 1),
        # A draw's runner holds it this long and renews as it goes; past it, another run resumes
        # the draw (longer than the API function's 15 s, shorter than the 5-minute draw tick).
        draw_lease_seconds=_int(env, "DRAW_LEASE_SECONDS", 60),
        # How long one run makes offers before it stops, saves its progress and lets the next run
        # go on: the staff call within the API function's 15 s, the 5-minute tick within its 120 s.
        draw_staff_budget_seconds=_int(env, "DRAW_STAFF_BUDGET_SECONDS", 10),
        draw_tick_budget_seconds=_int(env, "DRAW_TICK_BUDGET_SECONDS", 90),
        # A committed seed is sealed until its draw runs (chalicelib/platform/draw_seal.py): with
        # this KMS key in AWS, else locally under DRAW_SEED_KEY (hex) or a key derived for draw_seed.
        draw_seed_kms_key_id=_optional(env, "DRAW_SEED_KMS_KEY_ID"),
        draw_seed_key=_optional(env, "DRAW_SEED_KEY"),
        # The API function runs a staff-requested draw in this function (AWS: RunDueDraws), which
        # alone may open a sealed seed; unset (locally), in its own process.
        draw_function_name=_optional(env, "DRAW_FUNCTION_NAME"),
        # Where e-mail links point (the web app; the token goes in the URL fragment).
        web_base_url=env.get("WEB_BASE_URL", "http://127.0.0.1:8080/"),
        # "Find my booking" (POST /bookings/lookup): tries per client IP an hour; a booking's link
        # is sent again at most once in this many seconds (no limit per identity: DEVELOPERS.md).
        lookup_max_per_ip_per_hour=_int(env, "LOOKUP_MAX_PER_IP_PER_HOUR", 10),
        lookup_link_interval_seconds=_int(env, "LOOKUP_LINK_INTERVAL_SECONDS", 900),
        policy_defaults={
            "hold_ttl_seconds": _int(env, "DEFAULT_HOLD_TTL_SECONDS", 600),
            "quarantine_min_seconds": _int(env, "DEFAULT_QUARANTINE_MIN_SECONDS", 1800),
            "quarantine_max_seconds": _int(env, "DEFAULT_QUARANTINE_MAX_SECONDS", 21600),
            "cooldown_seconds": _int(env, "DEFAULT_COOLDOWN_SECONDS", 86400),
            "allocation": env.get("DEFAULT_ALLOCATION", "auto"),
            "publish_window_seconds": _int(env, "DEFAULT_PUBLISH_WINDOW_SECONDS", 3600),
            "draw_interval_seconds": _int(env, "DEFAULT_DRAW_INTERVAL_SECONDS", 86400),
            "offer_ttl_seconds": _int(env, "DEFAULT_OFFER_TTL_SECONDS", 86400),
            "partner_share": float(env.get("DEFAULT_PARTNER_SHARE", "0")),
            "max_holds_per_ip_per_hour": _int(env, "DEFAULT_MAX_HOLDS_PER_IP_PER_HOUR", 20),
            "accepted_documents": tuple(_list(env, "DEFAULT_ACCEPTED_DOCUMENTS", "agdref,passport,visa")),
            "identity_check": env.get("DEFAULT_IDENTITY_CHECK", "contact"),
        },
        # Per procedure id, the documents it accepts unless its policy says otherwise: a renewal
        # accepts only the AGDREF number, which every renewing applicant has (one person, one entry).
        procedure_policy_defaults=_procedure_defaults(env),
        # R10: the foreign nationals' registry as a JSON Lines file (locally and in tests; `make run` writes a demo one).
        identity_registry_file=_optional(env, "IDENTITY_REGISTRY_FILE"),
        # One-time codes asked for (POST /verifications): per client IP and per identity, each hour.
        verification_max_per_ip_per_hour=_int(env, "VERIFICATION_MAX_PER_IP_PER_HOUR", 20),
        verification_max_per_identity_per_hour=_int(env, "VERIFICATION_MAX_PER_IDENTITY_PER_HOUR", 5),
    )


def _procedure_defaults(env: _Environment) -> dict[str, dict[str, object]]:
    """Per procedure id, the documents it accepts and how it proves identities, unless its policy
    says otherwise: a renewal accepts only the AGDREF number, which every renewing applicant has
    (one person, one entry), and is checked against the registry that already knows them (R10)."""
    out: dict[str, dict[str, object]] = {}
    for procedure, types in _documents_by_procedure(env, "DEFAULT_ACCEPTED_DOCUMENTS_BY_PROCEDURE", "renewal:agdref").items():
        out.setdefault(procedure, {})["accepted_documents"] = types
    for procedure, checks in _documents_by_procedure(env, "DEFAULT_IDENTITY_CHECK_BY_PROCEDURE", "renewal:registry").items():
        if checks:
            out.setdefault(procedure, {})["identity_check"] = checks[0]
    return out


def check_deployed(loaded: Settings) -> Settings:
    """In AWS, refuse to start without what staff sign-in and CORS need: a token of another app
    client of the pool, or a localhost origin, must never be accepted by a deployed stage."""
    if not loaded.in_aws:
        return loaded
    missing = [name for name, value in (
        ("STAFF_JWKS_URL", loaded.staff_jwks_url),
        ("STAFF_JWT_ISSUER", loaded.staff_jwt_issuer),
        ("STAFF_JWT_AUDIENCE", loaded.staff_jwt_audience),
        ("CORS_ORIGINS", loaded.cors_origins),
    ) if not value]
    if missing:
        raise ConfigurationError(f"fairslot refuses to start in AWS without {', '.join(missing)} (docs/deploy.md)")
    local = _not_web_app_origins(loaded.cors_origins) if loaded.stage == "prod" else []
    if local:
        raise ConfigurationError(f"fairslot refuses to start in prod with CORS origins {', '.join(local)}: https origins of the web app only")
    return loaded


def _not_web_app_origins(origins: list[str]) -> list[str]:
    """Origins prod must not allow: plain http, or a browser on the developer's own machine."""
    return [o for o in origins if not o.startswith("https://") or "localhost" in o or "127.0.0.1" in o]


_current: tuple[list[tuple[str, str]] | None, Settings | None] = (None, None)  # (the snapshot it was built from, the Settings)


def current() -> Settings:
    """The settings in force: call it where a value is used, never bind its result at import.

    Raises ConfigurationError in AWS without what a deployed function needs (check_deployed)."""
    global _current
    snapshot = _snapshot()
    seen, settings = _current
    if snapshot != seen:
        # Read after the snapshot: a change in between makes the next call build again.
        settings = check_deployed(_load(_environment()))
        _current = (snapshot, settings)
    assert settings is not None, "built at the first call: no snapshot equals None"
    return settings
