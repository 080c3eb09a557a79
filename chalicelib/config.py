"""Configuration: every environment variable fairslot reads, read here and nowhere else."""
import os
from dataclasses import dataclass


def _int(name, default):
    return int(os.environ.get(name, default))


def _list(name, default):
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


def _documents_by_procedure(name, default):
    """Parses `renewal:agdref;other:agdref|passport` into {procedure id: (document types, ...)}."""
    out = {}
    for entry in os.environ.get(name, default).split(";"):
        procedure, _, types = entry.partition(":")
        if procedure.strip():
            out[procedure.strip()] = tuple(t.strip() for t in types.split("|") if t.strip())
    return out


class ConfigurationError(RuntimeError):
    """A deployed function refuses to start without a setting it cannot work safely without."""


def in_aws():
    """True in a Lambda function (the runtime always sets AWS_LAMBDA_FUNCTION_NAME), never locally."""
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and os.environ.get("FAIRSLOT_LOCAL") != "1"


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
    identity_hmac_secret: str
    identity_hmac_secret_param: str | None
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
    lookup_max_per_identity_per_day: int


def _load():
    return Settings(
        table_prefix=os.environ.get("TABLE_PREFIX", "fairslot-dev"),
        region=os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "eu-west-3")),
        dynamodb_endpoint=os.environ.get("DYNAMODB_ENDPOINT") or None,
        # Locally a dev secret is fine; in AWS the secret comes from SSM (see docs/deploy.md).
        identity_hmac_secret=os.environ.get("IDENTITY_HMAC_SECRET", ""),
        identity_hmac_secret_param=os.environ.get("IDENTITY_HMAC_SECRET_PARAM") or None,
        staff_jwt_secret=os.environ.get("STAFF_JWT_SECRET") or None,
        staff_jwt_issuer=os.environ.get("STAFF_JWT_ISSUER") or None,
        staff_jwks_url=os.environ.get("STAFF_JWKS_URL") or None,
        staff_jwt_audience=os.environ.get("STAFF_JWT_AUDIENCE") or None,
        cors_origins=_list("CORS_ORIGINS", "" if in_aws() else _LOCAL_CORS_ORIGINS),
        personal_data_retention_days=_int("PERSONAL_DATA_RETENTION_DAYS", 90),
        catalog_cache_seconds=_int("CATALOG_CACHE_SECONDS", 30),
        # How long a process trusts its view of which days standby requests cover (auto allocation).
        standby_cache_seconds=_int("STANDBY_CACHE_SECONDS", 5),
        local=os.environ.get("FAIRSLOT_LOCAL") == "1",
        # Fail fast and let the client retry (503 + Retry-After): API Gateway allows 29 s.
        dynamodb_read_timeout_seconds=_int("DYNAMODB_READ_TIMEOUT_SECONDS", 3),
        dynamodb_max_retries=_int("DYNAMODB_MAX_RETRIES", 2),
        # Throttling and transaction conflicts: tries per DynamoDB call (storage.py), then 503.
        storage_attempts=_int("STORAGE_ATTEMPTS", 4),
        # Issue 4: partners and notifications.
        partner_key_cache_seconds=_int("PARTNER_KEY_CACHE_SECONDS", 0),
        # API Gateway's partner usage plan (chalicelib/gateway_keys.py): its id, or the SSM
        # parameter holding it (what the stack sets). Neither: partners are not registered there.
        partner_usage_plan_id=os.environ.get("PARTNER_USAGE_PLAN_ID") or None,
        partner_usage_plan_param=os.environ.get("PARTNER_USAGE_PLAN_PARAM") or None,
        # Locally (and whenever set) e-mails are written as .eml files here instead of sent by SES.
        outbox_dir=os.environ.get("OUTBOX_DIR") or (os.path.join("var", "outbox") if os.environ.get("FAIRSLOT_LOCAL") == "1" else None),
        mail_from=os.environ.get("MAIL_FROM", "rendez-vous@fairslot.example"),
        # Chalice needs the ARN when packaging; infra/package.py points the placeholder at the
        # stack's own bookings table.
        bookings_stream_arn=os.environ.get("BOOKINGS_STREAM_ARN") or _BOOKINGS_STREAM_PLACEHOLDER,
        reminder_lead_days=_int("REMINDER_LEAD_DAYS", 1),
        # A draw's runner holds it this long and renews as it goes; past it, another run resumes
        # the draw (longer than the API function's 15 s, shorter than the 5-minute draw tick).
        draw_lease_seconds=_int("DRAW_LEASE_SECONDS", 60),
        # How long one run makes offers before it stops, saves its progress and lets the next run
        # go on: the staff call within the API function's 15 s, the 5-minute tick within its 120 s.
        draw_staff_budget_seconds=_int("DRAW_STAFF_BUDGET_SECONDS", 10),
        draw_tick_budget_seconds=_int("DRAW_TICK_BUDGET_SECONDS", 90),
        # Issue 13: where e-mail links point (the web app; the token goes in the URL fragment).
        web_base_url=os.environ.get("WEB_BASE_URL", "http://127.0.0.1:8080/"),
        # "Find my booking" (POST /bookings/lookup): tries per client IP an hour, per identity a day.
        lookup_max_per_ip_per_hour=_int("LOOKUP_MAX_PER_IP_PER_HOUR", 10),
        lookup_max_per_identity_per_day=_int("LOOKUP_MAX_PER_IDENTITY_PER_DAY", 3),
        policy_defaults={
            "hold_ttl_seconds": _int("DEFAULT_HOLD_TTL_SECONDS", 600),
            "quarantine_min_seconds": _int("DEFAULT_QUARANTINE_MIN_SECONDS", 1800),
            "quarantine_max_seconds": _int("DEFAULT_QUARANTINE_MAX_SECONDS", 21600),
            "cooldown_seconds": _int("DEFAULT_COOLDOWN_SECONDS", 86400),
            "allocation": os.environ.get("DEFAULT_ALLOCATION", "auto"),
            "publish_window_seconds": _int("DEFAULT_PUBLISH_WINDOW_SECONDS", 3600),
            "draw_interval_seconds": _int("DEFAULT_DRAW_INTERVAL_SECONDS", 86400),
            "offer_ttl_seconds": _int("DEFAULT_OFFER_TTL_SECONDS", 86400),
            "partner_share": float(os.environ.get("DEFAULT_PARTNER_SHARE", "0")),
            "max_holds_per_ip_per_hour": _int("DEFAULT_MAX_HOLDS_PER_IP_PER_HOUR", 20),
            "accepted_documents": tuple(_list("DEFAULT_ACCEPTED_DOCUMENTS", "agdref,passport,visa")),
        },
        # Per procedure id, the documents it accepts unless its policy says otherwise: a renewal
        # accepts only the AGDREF number, which every renewing applicant has (one person, one entry).
        procedure_policy_defaults={
            procedure: {"accepted_documents": types}
            for procedure, types in _documents_by_procedure("DEFAULT_ACCEPTED_DOCUMENTS_BY_PROCEDURE", "renewal:agdref").items()
        },
    )


def check_deployed(loaded):
    """In AWS, refuse to start without what staff sign-in and CORS need: a token of another app
    client of the pool, or a localhost origin, must never be accepted by a deployed stage."""
    if not in_aws():
        return loaded
    missing = [name for name, value in (
        ("STAFF_JWKS_URL", loaded.staff_jwks_url),
        ("STAFF_JWT_ISSUER", loaded.staff_jwt_issuer),
        ("STAFF_JWT_AUDIENCE", loaded.staff_jwt_audience),
        ("CORS_ORIGINS", loaded.cors_origins),
    ) if not value]
    if missing:
        raise ConfigurationError(f"fairslot refuses to start in AWS without {', '.join(missing)} (docs/deploy.md)")
    if os.environ.get("FAIRSLOT_STAGE") == "prod":
        local = [o for o in loaded.cors_origins if not o.startswith("https://") or "localhost" in o or "127.0.0.1" in o]
        if local:
            raise ConfigurationError(f"fairslot refuses to start in prod with CORS origins {', '.join(local)}: https origins of the web app only")
    return loaded


settings = check_deployed(_load())


def current():
    """The settings in force: call it where a value is used, never bind its result at import."""
    return settings


def reload():
    """Re-read the environment (tests change it between cases)."""
    global settings
    settings = check_deployed(_load())
    return settings
