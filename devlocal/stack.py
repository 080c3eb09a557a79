"""`make run`: the whole local stack in one command, stopped by one Ctrl-C.

Starts the serialized DynamoDB engine (in this process), creates the tables, seeds demo data,
feeds the bookings stream to the app's stream handler (devlocal.streams: e-mails land in
OUTBOX_DIR, default var/outbox/), then runs the API under `chalice local` and, when web/ exists,
the applicants' web app.
Prints READY once everything answers.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from devlocal import demo_registry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEV_STAFF_SECRET = "fairslot-local-staff-secret-change-me"


def local_environment(engine_endpoint, staff_secret, web_port=8080):
    """The environment the API runs with locally (also used by the tests)."""
    origins = f"http://127.0.0.1:{web_port},http://localhost:{web_port}"
    return {
        "CORS_ORIGINS": os.environ.get("CORS_ORIGINS", origins),
        "FAIRSLOT_LOCAL": "1",
        "DYNAMODB_ENDPOINT": engine_endpoint,
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_REGION": "eu-west-3",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "TABLE_PREFIX": os.environ.get("TABLE_PREFIX", "fairslot-local"),
        "IDENTITY_HMAC_SECRET": os.environ.get("IDENTITY_HMAC_SECRET", "fairslot-local-identity-secret"),
        "STAFF_JWT_SECRET": staff_secret,
        "STAFF_JWKS_URL": "",
        "IDENTITY_HMAC_SECRET_PARAM": "",
        # No API Gateway locally: partners are not registered in a usage plan.
        "PARTNER_USAGE_PLAN_PARAM": "",
        "POWERTOOLS_TRACE_DISABLED": "true",
        # The local engine serializes every action: under a storm a request queues rather than
        # fails, and retries would only add load.
        "DYNAMODB_READ_TIMEOUT_SECONDS": os.environ.get("DYNAMODB_READ_TIMEOUT_SECONDS", "20"),
        "DYNAMODB_MAX_RETRIES": os.environ.get("DYNAMODB_MAX_RETRIES", "0"),
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
        # Notifications are written here as .eml files instead of being sent (devlocal.streams).
        "OUTBOX_DIR": os.environ.get("OUTBOX_DIR", os.path.join(ROOT, "var", "outbox")),
        # E-mail links open the local web app.
        "WEB_BASE_URL": os.environ.get("WEB_BASE_URL", f"http://127.0.0.1:{web_port}/"),
        # R10: the identity registry (devlocal.demo_registry writes the demo one unless this is set).
        "IDENTITY_REGISTRY_FILE": os.environ.get("IDENTITY_REGISTRY_FILE") or demo_registry.default_path(ROOT),
    }


def wait_until_up(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except Exception:
            time.sleep(0.2)
    return False


def taken_ports(ports):
    """The (name, port) pairs some other process already listens on.

    The probe binds as the servers will (socketserver's allow_reuse_address, which chalice
    local's, the engine's and the web app's servers all set): the sockets a stopped `make run`
    leaves in TIME-WAIT for a minute do not count, a listening socket does."""
    taken = []
    for name, port in ports:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                taken.append((name, port))
    return taken


def run_scheduled_draws(every):
    """What the rate-scheduled Lambda does in AWS: run the draws that are due."""
    from chalicelib.platform import clock
    from chalicelib.usecases import draw_runs

    while True:
        time.sleep(every)
        try:
            draw_runs.run_due_draws(clock.now())
        except Exception as exc:  # the next tick tries again, as the schedule would
            print(f"scheduled draws failed: {exc!r}", flush=True)


def main(argv=None):
    args = parse_arguments(argv)
    web_server = os.path.join(ROOT, "web", "serve.py")
    with_web = not args.no_web and os.path.exists(web_server)
    refuse_taken_ports(args, with_web)
    staff_secret = local_staff_secret()
    engine, env = start_engine(args, staff_secret)
    poller = feed_bookings_stream(engine, env)
    children = [serve_api(args, env)] + ([serve_web_app(args, web_server)] if with_web else [])

    def stop(*_):
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
        poller.stop()
        engine.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not wait_until_up(f"http://127.0.0.1:{args.api_port}/health"):
        print("the API did not start", flush=True)
        stop()
    if args.draw_every > 0:
        threading.Thread(target=run_scheduled_draws, args=(args.draw_every,), daemon=True).start()
    print_ready(args, engine, env, staff_secret, with_web)
    stop_when_a_child_exits(children, stop)


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    env_port = lambda name, default: int(os.environ.get(name) or default)  # noqa: E731
    parser.add_argument("--api-port", type=int, default=env_port("API_PORT", 8000), help="default 8000, or $API_PORT")
    parser.add_argument("--engine-port", type=int, default=env_port("ENGINE_PORT", 8001), help="default 8001, or $ENGINE_PORT")
    parser.add_argument("--web-port", type=int, default=env_port("WEB_PORT", 8080), help="default 8080, or $WEB_PORT")
    parser.add_argument("--no-seed", action="store_true")
    parser.add_argument("--no-web", action="store_true")
    parser.add_argument("--draw-every", type=float, default=60,
                        help="seconds between runs of the scheduled draw job (as @app.schedule in AWS); 0: never")
    return parser.parse_args(argv)


def local_staff_secret():
    staff_secret = os.environ.get("STAFF_JWT_SECRET")
    if not staff_secret:
        staff_secret = DEV_STAFF_SECRET
        print(f"STAFF_JWT_SECRET not set: using the dev default '{DEV_STAFF_SECRET}'", flush=True)
    return staff_secret


def refuse_taken_ports(args, with_web):
    """Exit (status 2) naming the option to change when a port the stack needs is taken."""
    ports = [("API", args.api_port), ("engine", args.engine_port)] + ([("web", args.web_port)] if with_web else [])
    taken = taken_ports(ports)
    for name, port in taken:
        flag = {"API": "--api-port / API_PORT", "engine": "--engine-port / ENGINE_PORT", "web": "--web-port / WEB_PORT"}[name]
        print(f"port {port} ({name}) is already taken: stop what uses it, or choose another with {flag} "
              f"(e.g. make run {flag.split(' / ')[1]}={port + 100})", file=sys.stderr, flush=True)
    if taken:
        sys.exit(2)


def start_engine(args, staff_secret):
    """The serialized DynamoDB engine with its tables (and demo data unless --no-seed); this
    process's environment becomes the API's. Returns the engine and that environment."""
    from devlocal.engine import Engine

    engine = Engine(port=args.engine_port).start()
    demo = not os.environ.get("IDENTITY_REGISTRY_FILE")
    env = local_environment(engine.endpoint, staff_secret, args.web_port)
    if demo:
        demo_registry.write_demo_registry(env["IDENTITY_REGISTRY_FILE"])
    os.environ.update(env)
    sys.path.insert(0, ROOT)
    from chalicelib import storage
    from chalicelib.platform.clock import now

    storage.ensure_tables()
    if not args.no_seed:
        from devlocal.seed import seed

        print(f"seeded {seed(now())} demo slots", flush=True)
    return engine, env


def feed_bookings_stream(engine, env):
    """The bookings stream -> the app's own stream handler (notifications), as Lambda would."""
    import app as application
    from chalicelib import storage
    from devlocal.streams import BookingsStreamPoller

    return BookingsStreamPoller(application.bookings_stream, storage.bookings_table_name(), engine.endpoint,
                                region=env["AWS_REGION"]).start()


def serve_api(args, env):
    return subprocess.Popen(
        [sys.executable, "-m", "devlocal.api_server", "--port", str(args.api_port)],
        cwd=ROOT, env={**os.environ, **env},
    )


def serve_web_app(args, web_server):
    return subprocess.Popen([sys.executable, web_server, "--port", str(args.web_port),
                             "--api-url", f"http://127.0.0.1:{args.api_port}"], cwd=ROOT)


def stop_when_a_child_exits(children, stop):
    while True:
        for child in children:
            if child.poll() is not None:
                print(f"a child process exited ({child.args}); stopping", flush=True)
                stop()
        time.sleep(0.5)


def print_ready(args, engine, env, staff_secret, with_web):
    """Where everything answers, an admin token and what to try first, then READY."""
    from chalicelib.http.staff_auth import issue_local_staff_token

    token = issue_local_staff_token(staff_secret, "local-admin", ["admins"])
    print(f"API      http://127.0.0.1:{args.api_port}", flush=True)
    if with_web:
        print(f"web app  http://127.0.0.1:{args.web_port}/", flush=True)
    print(f"engine   {engine.endpoint} (moto DynamoDB, serialized)", flush=True)
    print(f"outbox   {env['OUTBOX_DIR']} (notification e-mails and one-time codes as .eml files)", flush=True)
    print(f"registry {env['IDENTITY_REGISTRY_FILE']} (renewals: people to try)", flush=True)
    if env["IDENTITY_REGISTRY_FILE"] == demo_registry.default_path(ROOT):
        for line in demo_registry.demo_lines():
            print(line, flush=True)
    print(f"staff admin token (8 h): {token}", flush=True)
    print("next steps:", flush=True)
    print(f"  curl http://127.0.0.1:{args.api_port}/sites", flush=True)
    if with_web:
        print(f"  open http://127.0.0.1:{args.web_port}/ (the web app; the API reference: /api)", flush=True)
    else:
        print(f"  the API reference: http://127.0.0.1:{args.api_port}/openapi.json", flush=True)
    print("READY", flush=True)


if __name__ == "__main__":
    main()
