"""Staff sign-in works on the Lambda runtime (docs/deploy.md, "What was verified offline"): the prod slim package, unzipped
into a virtualenv that holds only what the Lambda Python runtime provides (boto3/botocore),
verifies a Cognito-style RS256 ID token against a JWKS served on loopback, through the app's own
staff authorizer, and refuses every other token. A deployed function refuses to start without
the app client id (the audience).

Offline apart from PyPI (the venv's boto3/botocore, pinned like the runtime's).
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.infra.test_package import IGNORED, ROOT, _env

pytestmark = pytest.mark.infra

# What the Lambda python3.11 runtime provides, and nothing else (docs/deploy.md, "What was verified offline").
RUNTIME_PACKAGES = ["boto3==1.44.8", "botocore==1.44.8"]
POOL = "https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_TestPool"
CLIENT_ID = "fairslotstaffclient"
KID = "test-key-1"

VERIFY = textwrap.dedent(
    """
    import json, sys
    import app  # the whole app, as the Lambda runtime imports it
    results = {}
    for name, token in json.loads(sys.stdin.read()).items():
        event = {"type": "TOKEN", "authorizationToken": "Bearer " + token,
                 "methodArn": "arn:aws:execute-api:eu-west-3:123456789012:abc123/api/GET/staff/signals"}
        try:
            answer = app.staff_agent(event, None)
            results[name] = {"principal": answer["principalId"], "groups": answer.get("context", {}).get("groups")}
        except Exception as exc:
            results[name] = {"refused": str(exc)}
    results["modules"] = sorted(m for m in ("cryptography", "jwt") if m in sys.modules)
    print(json.dumps(results))
    """
)


@pytest.fixture(scope="module")
def lambda_like(tmp_path_factory):
    """(python of a boto3/botocore-only venv, unzipped prod slim package)."""
    work = tmp_path_factory.mktemp("lambda")
    project = work / "project"
    shutil.copytree(ROOT, project, ignore=IGNORED)
    out = project / "out" / "prod"
    built = subprocess.run([sys.executable, "infra/package.py", "--stage", "prod", "--slim", str(out)],
                           cwd=project, env=_env(), capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    task = work / "task"
    with zipfile.ZipFile(out / "deployment.zip") as archive:
        archive.extractall(task)
    venv = work / "runtime"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                *RUNTIME_PACKAGES], capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr
    return python, task


def _lambda_env(task, **overrides):
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env.update({
        "PYTHONPATH": str(task),
        "AWS_LAMBDA_FUNCTION_NAME": "fairslot-prod-StaffAgent",
        "AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "FAIRSLOT_STAGE": "prod", "TABLE_PREFIX": "fairslot-prod",
        "POWERTOOLS_SERVICE_NAME": "fairslot", "POWERTOOLS_METRICS_NAMESPACE": "fairslot",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "STAFF_JWT_ISSUER": POOL, "STAFF_JWT_AUDIENCE": CLIENT_ID,
        "CORS_ORIGINS": "https://rdv.example.org",
    })
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


@pytest.fixture(scope="module")
def pool_keys():
    """A fresh RSA key whose public half a loopback JWKS serves, and another key nobody trusts."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from jwt.algorithms import RSAAlgorithm

    trusted = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(trusted.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 -- http.server's name
            self.send_response(200 if self.path == "/.well-known/jwks.json" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield trusted, stranger, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


def _token(key, **claims):
    import jwt

    now = int(time.time())
    payload = {"sub": "staff-1", "iss": POOL, "aud": CLIENT_ID, "token_use": "id", "cognito:groups": ["agents"],
               "iat": now, "exp": now + 600, **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm="RS256",
                      headers={"kid": KID})


def test_an_rs256_id_token_is_verified_on_the_runtime_and_every_other_token_refused(lambda_like, pool_keys):
    python, task = lambda_like
    trusted, stranger, jwks_url = pool_keys
    now = int(time.time())
    tokens = {
        "valid": _token(trusted),
        "other_key": _token(stranger),
        "expired": _token(trusted, iat=now - 7200, exp=now - 3600),
        "other_client": _token(trusted, aud="anotherclient"),
        "access_token": _token(trusted, token_use="access", aud=None, client_id=CLIENT_ID),
        "other_pool": _token(trusted, iss="https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_Other"),
        "no_token_use": _token(trusted, token_use=None),
    }
    result = subprocess.run([str(python), "-c", VERIFY],
                            input=json.dumps(tokens), env=_lambda_env(task, STAFF_JWKS_URL=jwks_url),
                            capture_output=True, text=True, timeout=120, cwd=str(task.parent))
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["valid"] == {"principal": "staff-1", "groups": "agents"}
    for name in tokens:
        if name != "valid":
            assert answers[name] == {"refused": "Unauthorized"}, name
    assert answers["modules"] == ["cryptography", "jwt"]  # the runtime's copy is the package's own


def test_the_package_ships_the_linux_x86_64_build_of_cryptography(lambda_like):
    python, task = lambda_like
    wheel = next(task.glob("cryptography-*.dist-info")) / "WHEEL"
    assert "manylinux" in wheel.read_text() and "x86_64" in wheel.read_text()
    assert list((task / "cryptography" / "hazmat" / "bindings").glob("_rust.abi3.so"))
    # Only boto3/botocore and their own dependencies in the venv: nothing else could stand in.
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=json"], capture_output=True, text=True)
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert not names & {"cryptography", "pyjwt", "cffi", "pynamodb", "aws-lambda-powertools"}


def test_cold_start_imports_neither_jwt_nor_cryptography(lambda_like):
    python, task = lambda_like
    code = "import sys, app; print(sorted(m for m in ('jwt', 'cryptography') if m in sys.modules))"
    result = subprocess.run([str(python), "-c", code], env=_lambda_env(task, STAFF_JWKS_URL=POOL + "/jwks"),
                            capture_output=True, text=True, timeout=120, cwd=str(task.parent))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("missing", ["STAFF_JWT_AUDIENCE", "STAFF_JWT_ISSUER", "STAFF_JWKS_URL", "CORS_ORIGINS"])
def test_a_deployed_function_refuses_to_start_without_its_staff_or_cors_settings(lambda_like, missing):
    python, task = lambda_like
    env = _lambda_env(task, **{"STAFF_JWKS_URL": POOL + "/jwks", missing: None})
    result = subprocess.run([str(python), "-c", "import app"], env=env, capture_output=True, text=True,
                            timeout=120, cwd=str(task.parent))
    assert result.returncode != 0
    assert "ConfigurationError" in result.stderr and missing in result.stderr
