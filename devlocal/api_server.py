"""`chalice local` for fairslot, with two dev-only adjustments that mirror API Gateway in AWS.

1. Authorizer refusals use fairslot's error envelope (in AWS: the GatewayResponses of infra/),
   and an authorizer reads the header it names (x-api-key for partners), as API Gateway does.
   An authorizer that fails with "Unauthorized" gives 401 and one that fails otherwise (storage
   trouble) 503 with Retry-After, as API Gateway's UNAUTHORIZED and AUTHORIZER_FAILURE
   responses do in infra/resources.yaml; chalice local would let the exception escape.
   A path no route matches is a 404 `not_found` in the envelope (API Gateway's
   MISSING_AUTHENTICATION_TOKEN response in infra/resources.yaml), where chalice local says 403;
   any method (TRACE too) reaches the app, which answers 405 in the envelope.
2. X-Forwarded-For from loopback becomes the source IP, so tests and benchmarks can act as many
   clients; in AWS the source IP is API Gateway's and cannot be set by a client.
3. A listen backlog of 1024 instead of socketserver's 5, so a burst of clients is queued rather
   than reset (API Gateway queues them too), and TCP_NODELAY: the handler writes headers and body
   separately, and Nagle's algorithm with delayed ACKs added ~40 ms to every keep-alive response.

Usage: python -m devlocal.api_server --host 127.0.0.1 --port 8000
"""
import argparse
import json
import os
import sys

PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def patch_chalice_local():
    from chalice import local

    route_not_found, authorizer_failure = _gateway_refusals_in_the_envelope(local)
    _failed_authorizer_as_api_gateway(local, authorizer_failure)
    _unmatched_path_is_not_found(local, route_not_found)
    _source_ip_from_forwarded_for(local)
    _authorizer_reads_the_header_it_names(local)
    _every_method_reaches_the_app(local)
    _bursts_queue_and_responses_go_out_at_once(local)


def _gateway_refusals_in_the_envelope(local):
    """The gateway's own refusals (401, 403, 404, 503) in fairslot's error envelope; returns the
    two refusals chalice local lacks (no route matches, the authorizer failed)."""

    def envelope(code, message):
        return json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()

    original_init = local.LocalGatewayException.__init__

    class AuthorizerFailure(local.LocalGatewayException):
        CODE = 503

    class RouteNotFound(local.LocalGatewayException):
        CODE = 404

    def init(self, headers, body=None):
        if isinstance(self, RouteNotFound):
            body = envelope("not_found", "No such resource.")
        elif isinstance(self, local.NotAuthorizedError):
            body = envelope("unauthorized", "Missing or invalid credentials.")
        elif isinstance(self, local.ForbiddenError):
            body = envelope("forbidden", "These credentials do not allow this action.")
        elif isinstance(self, AuthorizerFailure):
            body = envelope("unavailable", "The service is unavailable, retry shortly.")
            headers = {**(headers or {}), "Retry-After": "2"}
        original_init(self, {**(headers or {}), "Content-Type": "application/json"}, body)

    local.LocalGatewayException.__init__ = init
    return RouteNotFound, AuthorizerFailure


def _failed_authorizer_as_api_gateway(local, authorizer_failure):
    """An authorizer that raises "Unauthorized" gives 401, one that fails otherwise 503."""
    original_authorize = local.LocalGatewayAuthorizer.authorize

    def authorize(self, raw_path, lambda_event, lambda_context):
        try:
            return original_authorize(self, raw_path, lambda_event, lambda_context)
        except local.LocalGatewayException:
            raise
        except Exception as exc:  # noqa: BLE001 -- what API Gateway does with a failed authorizer
            headers = {"x-amzn-RequestId": lambda_context.aws_request_id}
            if str(exc) == "Unauthorized":
                raise local.NotAuthorizedError(headers) from exc
            raise authorizer_failure(headers) from exc

    local.LocalGatewayAuthorizer.authorize = authorize


def _unmatched_path_is_not_found(local, route_not_found):
    original_generate = local.LocalGateway._generate_lambda_event

    def generate_lambda_event(self, method, path, headers, body):
        try:
            return original_generate(self, method, path, headers, body)
        except ValueError as exc:  # no route matches this path
            raise route_not_found({"x-amzn-RequestId": "local"}) from exc

    local.LocalGateway._generate_lambda_event = generate_lambda_event


def _source_ip_from_forwarded_for(local):
    original_event = local.LambdaEventConverter.create_lambda_event

    def create_lambda_event(self, method, path, headers, body=None):
        event = original_event(self, method, path, headers, body)
        forwarded = event["headers"].get("x-forwarded-for")
        if forwarded:
            event["requestContext"]["identity"]["sourceIp"] = forwarded.split(",")[0].strip()
        return event

    local.LambdaEventConverter.create_lambda_event = create_lambda_event


def _authorizer_reads_the_header_it_names(local):
    """chalice local always reads the Authorization header; API Gateway reads the header the
    authorizer names (the partner authorizer's is x-api-key)."""
    original_prepare = local.LocalGatewayAuthorizer._prepare_authorizer_event

    def prepare_authorizer_event(self, arn, lambda_event, lambda_context):
        route_entry = self._route_for_event(lambda_event)
        header = getattr(getattr(getattr(route_entry, "authorizer", None), "config", None), "header", None)
        if header and header.lower() != "authorization":
            headers = lambda_event.get("headers") or {}
            value = headers.get(header.lower())
            lambda_event = {**lambda_event, "headers": {**headers, "authorization": value}}
            if value is None:
                lambda_event["headers"].pop("authorization")
        return original_prepare(self, arn, lambda_event, lambda_context)

    local.LocalGatewayAuthorizer._prepare_authorizer_event = prepare_authorizer_event


def _every_method_reaches_the_app(local):
    """http.server answers a method it has no do_<METHOD> for (TRACE, CONNECT, ...) with a bare 501;
    every method goes to the gateway instead, so that the app answers 405 in the envelope."""

    def any_method(self, name):
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    local.ChaliceRequestHandler.__getattr__ = any_method


def _bursts_queue_and_responses_go_out_at_once(local):
    local.ThreadedHTTPServer.request_queue_size = 1024
    local.ChaliceRequestHandler.disable_nagle_algorithm = True


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args(argv)
    patch_chalice_local()
    from chalice.cli import create_local_server
    from chalice.cli.factory import CLIFactory

    sys.path.insert(0, PROJECT_DIR)
    # A copy: the stage's environment_variables in .chalice/config.json describe AWS (SSM secret,
    # Cognito keys); locally the environment set by devlocal.stack must win.
    factory = CLIFactory(PROJECT_DIR, environ=dict(os.environ))
    server = create_local_server(factory, args.host, args.port, args.stage)
    print(f"api listening on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
