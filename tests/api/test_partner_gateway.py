"""Partners in API Gateway's usage plan (SPEC §4 R8 "per partner key"; docs/deploy.md, "Partner API keys"): creating a partner
registers its usage-plan key, the authorizer names that key, revoking deletes it, and a gateway
failure leaves no partner half made. API Gateway and SSM are moto's, in process."""
import boto3
import pytest

import app as application
from chalicelib import storage
from chalicelib.platform import gateway_keys
from tests.support import SITE, applicant


@pytest.fixture
def apigateway(engine):
    return boto3.client("apigateway", region_name="eu-west-3")


@pytest.fixture
def plan(apigateway, monkeypatch):
    """A usage plan, found the way the stack publishes it: through the SSM parameter."""
    plan_id = apigateway.create_usage_plan(name="fairslot-test-partners", throttle={"rateLimit": 20, "burstLimit": 40})["id"]
    boto3.client("ssm", region_name="eu-west-3").put_parameter(
        Name="/fairslot/test/partner-usage-plan-id", Value=plan_id, Type="String")
    monkeypatch.setenv("PARTNER_USAGE_PLAN_PARAM", "/fairslot/test/partner-usage-plan-id")
    gateway_keys.forget()
    yield plan_id
    gateway_keys.forget()


@pytest.fixture(autouse=True)
def site(api):
    """The site every partner here is created for (R11: a key names its sites)."""
    api.create_site()


def authorize(api_key, path="/partner/bookings"):
    """The partner authorizer as API Gateway invokes it (a TOKEN event)."""
    event = {"type": "TOKEN", "authorizationToken": api_key,
             "methodArn": f"arn:aws:execute-api:eu-west-3:123456789012:abcdef1234/api/GET{path}"}
    return application.partner_key(event, None)


def plan_keys(apigateway, plan_id):
    return {k["id"]: k["value"] for k in apigateway.get_usage_plan_keys(usagePlanId=plan_id)["items"]}


def test_a_new_partner_is_counted_against_its_own_key_in_the_usage_plan(api, apigateway, plan):
    first, second = api.create_partner("Cimade"), api.create_partner("La Cimade Béziers")
    keys = plan_keys(apigateway, plan)
    assert len(keys) == 2
    for partner in (first, second):
        answer = authorize(partner["api_key"])
        assert answer["principalId"] == partner["partner_id"]
        assert answer["usageIdentifierKey"] in keys.values()
        # The gateway key is not the partner's secret, and the secret is nowhere in API Gateway.
        assert answer["usageIdentifierKey"] != partner["api_key"]
        stored = apigateway.get_api_keys(includeValues=True)["items"]
        assert partner["api_key"] not in str(stored)
    assert authorize(first["api_key"])["usageIdentifierKey"] != authorize(second["api_key"])["usageIdentifierKey"]


def test_revoking_deletes_the_gateway_key_and_the_authorizer_refuses_with_401(api, apigateway, plan):
    partner = api.create_partner()
    assert len(plan_keys(apigateway, plan)) == 1
    assert api.revoke_partner(partner).status == 204
    assert plan_keys(apigateway, plan) == {}
    assert apigateway.get_api_keys()["items"] == []
    with pytest.raises(Exception, match="^Unauthorized$"):  # what API Gateway turns into 401
        authorize(partner["api_key"])
    assert api.partner_bookings(partner).status == 401


def test_a_gateway_failure_on_creation_stores_no_partner_and_leaves_no_key(api, apigateway, plan, monkeypatch):
    from botocore.exceptions import ClientError

    real_client = gateway_keys._client

    class PlanRefuses:
        """The key is created, then attaching it to the plan fails (throttled, say)."""

        def __init__(self, client):
            self._client = client

        def __getattr__(self, operation):
            return getattr(self._client, operation)

        def create_usage_plan_key(self, **kwargs):
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "slow down"}}, "CreateUsagePlanKey")

    monkeypatch.setattr(gateway_keys, "_client", lambda service: PlanRefuses(real_client(service)))
    refused = api.call("POST", "/staff/partners", {"name": "x", "daily_quota": 5, "sites": [SITE]}, api.staff_headers())
    assert refused.status == 503 and refused.headers.get("retry-after"), refused
    assert storage.list_partners() == []
    assert apigateway.get_api_keys()["items"] == []  # the key made first was deleted again


def test_a_storage_failure_on_creation_undoes_the_gateway_registration(api, apigateway, plan, monkeypatch):
    from chalicelib.rules.errors import StorageUnavailable

    def unavailable(*args, **kwargs):
        raise StorageUnavailable()

    monkeypatch.setattr(storage, "create_partner_if_new", unavailable)
    refused = api.call("POST", "/staff/partners", {"name": "x", "daily_quota": 5, "sites": [SITE]}, api.staff_headers())
    assert refused.status == 503
    assert apigateway.get_api_keys()["items"] == [] and plan_keys(apigateway, plan) == {}


def test_a_failed_gateway_cleanup_does_not_undo_the_revocation_and_revoking_again_retries_it(api, apigateway, plan, monkeypatch):
    partner = api.create_partner()
    real_client = gateway_keys._client

    class Broken:
        def __getattr__(self, operation):
            from botocore.exceptions import EndpointConnectionError

            def call(**kwargs):
                raise EndpointConnectionError(endpoint_url="https://apigateway.eu-west-3.amazonaws.com")

            return call

    monkeypatch.setattr(gateway_keys, "_client", lambda service: Broken())
    assert api.revoke_partner(partner).status == 204
    assert api.partner_bookings(partner).status == 401  # revoked all the same
    assert len(plan_keys(apigateway, plan)) == 1  # left behind (inert: only the authorizer names it)
    monkeypatch.setattr(gateway_keys, "_client", real_client)
    assert api.revoke_partner(partner).status == 409  # already revoked, and the cleanup is retried
    assert plan_keys(apigateway, plan) == {}


def test_without_a_plan_configured_partners_work_unregistered(api, apigateway):
    api.set_policy(partner_share=1 / 3, partner_release_lead_seconds=3600)  # the site exists (fixture `site`)
    api.schedule()
    partner = api.create_partner()
    assert apigateway.get_api_keys()["items"] == []
    assert storage.get_partner(partner["partner_id"]).gateway_key_id is None
    assert api.partner_hold(partner, api.partner_slots(partner)[0]["slot_id"], applicant(1)).status == 201


def test_an_authorizer_that_cannot_reach_storage_answers_503_not_401(api, monkeypatch):
    """API Gateway's AUTHORIZER_FAILURE response is a 503 with Retry-After (infra/resources.yaml);
    chalice local is patched to answer the same (devlocal/api_server.py)."""
    from chalicelib.rules.errors import StorageUnavailable

    partner = api.create_partner()

    def unavailable(key_hash):
        raise StorageUnavailable()

    monkeypatch.setattr(storage, "partner_by_key_hash", unavailable)
    reply = api.partner_bookings(partner)
    assert (reply.status, reply.code) == (503, "unavailable") and reply.headers.get("retry-after") == "2", reply
