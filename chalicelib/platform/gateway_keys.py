"""Partners in API Gateway's usage plan, so that API Gateway throttles and counts each partner
before any Lambda runs (SPEC R8, "per partner key"), on top of the daily quota of holds that the
application counts itself.

The partner's secret x-api-key never reaches API Gateway's key store. The API's key source is
AUTHORIZER (infra/resources.yaml): the partner authorizer checks the secret against DynamoDB and
answers `usageIdentifierKey = usage_key(partner_id)`; API Gateway then applies the usage plan
`fairslot-<stage>-partners` to the API key of that value. Clients cannot present that value
themselves, so it is no secret. Partner creation registers the key and revocation deletes it.

The plan's id comes from the SSM parameter named by PARTNER_USAGE_PLAN_PARAM, written by the
stack (an environment variable referring to the plan would be a circular reference: function ->
plan -> API stage -> API -> function), or directly from PARTNER_USAGE_PLAN_ID. Neither set
(`make run`, most tests): nothing is registered, and chalice local does not throttle anyway.
"""
from collections.abc import Callable
from typing import Any

from chalicelib.platform import config, parameters
from chalicelib.platform.observability import logger, metric
from chalicelib.rules.errors import StorageUnavailable

_plan_id: str | None = None


def usage_key(partner_id: str) -> str:
    """The API Gateway key value for a partner (API Gateway wants 20 to 128 characters)."""
    return f"fairslot-partner-{partner_id}"


def _client(service: str) -> Any:
    import boto3  # cold start: on the first partner change only

    return boto3.client(service, region_name=config.current().region)


def plan_id() -> str | None:
    """The partner usage plan's id, or None when registration is off; read once per process."""
    global _plan_id
    if _plan_id is None:
        settings = config.current()
        if settings.partner_usage_plan_id:
            _plan_id = settings.partner_usage_plan_id
        elif settings.partner_usage_plan_param:
            _plan_id = parameters.read(settings.partner_usage_plan_param)
        else:
            _plan_id = ""
    return _plan_id or None


def forget() -> None:
    global _plan_id
    _plan_id = None


def register(partner_id: str, name: str) -> str | None:
    """The partner's key, attached to the usage plan: its id, or None when registration is off.
    Raises StorageUnavailable (503, nothing kept) if API Gateway refuses or cannot be reached."""
    from botocore.exceptions import BotoCoreError, ClientError  # cold start: botocore loads with the first client

    try:
        plan = plan_id()
        if plan is None:
            return None
        apigateway = _client("apigateway")
        key_id = apigateway.create_api_key(
            # No tags: tagging on creation needs apigateway:PUT on /tags too; the name says it all.
            name=f"{config.current().table_prefix}-{partner_id}", description=f"fairslot partner: {name}"[:120],
            enabled=True, value=usage_key(partner_id),
        )["id"]
    except (BotoCoreError, ClientError) as exc:
        logger().warning("partner key not registered in API Gateway", extra={"error": str(exc)})
        raise StorageUnavailable("The partner could not be registered with the API gateway; please retry.") from exc
    try:
        apigateway.create_usage_plan_key(usagePlanId=plan, keyId=key_id, keyType="API_KEY")
    except (BotoCoreError, ClientError) as exc:
        unregister(key_id, attached=False)
        logger().warning("partner key not attached to the usage plan", extra={"error": str(exc)})
        raise StorageUnavailable("The partner could not be registered with the API gateway; please retry.") from exc
    return key_id


def unregister(key_id: str | None, attached: bool = True) -> bool:
    """Deletes the partner's key from API Gateway and detaches it from the plan. True when gone.

    Never raises: revocation itself happened in DynamoDB (the authorizer refuses the partner
    from then on) and a key left behind is inert, since only the authorizer can name it. A
    failure is logged and counted (`GatewayKeyCleanupFailed`); revoking again retries it."""
    if not key_id:
        return True
    from botocore.exceptions import ClientError  # cold start: botocore loads with the first client

    def unless_gone(call: Callable[..., object], **kwargs: str) -> None:
        try:
            call(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NotFoundException":
                raise

    try:
        apigateway = _client("apigateway")
        unless_gone(apigateway.delete_api_key, apiKey=key_id)
        plan = plan_id() if attached else None
        if plan:  # explicit, rather than relying on the key's deletion to detach it
            unless_gone(apigateway.delete_usage_plan_key, usagePlanId=plan, keyId=key_id)
        return True
    except Exception as exc:  # noqa: BLE001 -- a cleanup never turns into the caller's failure
        logger().warning("partner key left in API Gateway", extra={"api_key_id": key_id, "error": str(exc)})
        metric("GatewayKeyCleanupFailed")
        return False
