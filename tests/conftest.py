"""Test environment: every in-process test runs against moto's DynamoDB, serialized by
devlocal.serial_moto, with the same configuration variables the application reads in AWS."""
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Before anything imports chalicelib: the storage models take their table names when imported;
# everything else reads the environment at each call (config.current()).
os.environ.update(
    {
        "FAIRSLOT_LOCAL": "1",
        "TABLE_PREFIX": "fairslot-test",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_REGION": "eu-west-3",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "IDENTITY_HMAC_SECRET": "test-identity-secret",
        "STAFF_JWT_SECRET": "test-staff-secret-at-least-32-bytes-long",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "CATALOG_CACHE_SECONDS": "30",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        # Draw requests and offers send e-mail in process: into a throw-away outbox, not var/.
        "OUTBOX_DIR": os.environ.get("FAIRSLOT_TEST_OUTBOX") or tempfile.mkdtemp(prefix="fairslot-test-outbox-"),
        # R10: the identity registry is a file the test client appends people to (tests/support.py::register).
        "IDENTITY_REGISTRY_FILE": os.path.join(tempfile.mkdtemp(prefix="fairslot-test-registry-"), "registry.jsonl"),
        # Tests ask for codes for hundreds of people from one address; the limits' own tests set them low.
        "VERIFICATION_MAX_PER_IP_PER_HOUR": "1000000",
        "VERIFICATION_MAX_PER_IDENTITY_PER_HOUR": "1000000",
    }
)
open(os.environ["IDENTITY_REGISTRY_FILE"], "a").close()
os.environ.pop("DYNAMODB_ENDPOINT", None)

import pytest  # noqa: E402

from devlocal import serial_moto  # noqa: E402
from devlocal.api_server import patch_chalice_local  # noqa: E402

serial_moto.apply()
patch_chalice_local()  # authorizer refusals in the error envelope, as API Gateway's responses are


@pytest.fixture
def engine():
    """A fresh in-process DynamoDB with fairslot's tables."""
    from moto import mock_aws

    from chalicelib import storage
    from chalicelib.platform import clock, keys
    from chalicelib.usecases import site_catalog

    with mock_aws():
        site_catalog.forget_cached()
        keys.forget()
        clock.reset()
        storage.connection.reset()  # a new client for this engine
        storage.ensure_tables()
        yield
        clock.reset()
        site_catalog.forget_cached()


@pytest.fixture
def api(engine, tmp_path):
    """The Chalice app under its test client (authorizers included), on the fresh engine."""
    from chalice.test import Client

    import app as application
    from tests.support import Api

    with Client(application.app, project_dir=str(tmp_path)) as client:
        yield Api(client)


@pytest.fixture
def calls(monkeypatch):
    """The DynamoDB operations made from now on, counted at botocore (SPEC §6 budgets)."""
    from collections import Counter

    from tests.support import at_the_wire

    seen = Counter()

    def counting(send, service, operation_name, api_params):
        if service == "dynamodb":
            seen[operation_name] += 1
        return send()

    at_the_wire(monkeypatch, counting)
    return seen
