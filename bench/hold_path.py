"""Which of fairslot's modules a warm `POST /holds` passes through, and how often it crosses between them.

Runs the API in process (Chalice test client on moto's in-memory DynamoDB, as the tests do),
makes one hold to warm the process (catalog cache, clients), then traces a second hold with
`sys.setprofile`. Only the project's own product code counts (`app.py` and `chalicelib/`): a
call is a switch when the function called lives in another project module than the nearest
project function below it on the stack. Prints the modules in the order they are first entered,
the calls into each, and the totals.

    python bench/hold_path.py
"""
import collections
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.in_process import use_in_process_engine  # noqa: E402

use_in_process_engine()

PRODUCT = (str(ROOT / "app.py"), str(ROOT / "chalicelib") + "/")


def project_module(filename):
    """`chalicelib/rules/slots.py` for a product file, None for anything else."""
    if filename == PRODUCT[0] or filename.startswith(PRODUCT[1]):
        return str(Path(filename).relative_to(ROOT))
    return None


class Tracer:
    def __init__(self):
        self.calls = collections.Counter()
        self.order = []
        self.switches = 0

    def _caller_module(self, frame):
        frame = frame.f_back
        while frame is not None:
            module = project_module(frame.f_code.co_filename)
            if module:
                return module
            frame = frame.f_back
        return None

    def __call__(self, frame, event, arg):
        if event != "call":
            return
        module = project_module(frame.f_code.co_filename)
        if module is None:
            return
        if module not in self.calls:
            self.order.append(module)
        self.calls[module] += 1
        caller = self._caller_module(frame)
        if caller is not None and caller != module:
            self.switches += 1


def applicant(n):
    return {"document": {"type": "agdref", "number": f"{n:010d}"}, "birth_date": "1990-01-02",
            "family_name": "Nguyen", "given_names": "Maria", "email": "maria.nguyen@example.org"}


def main():
    from chalice.test import Client
    from moto import mock_aws

    from devlocal import serial_moto
    from devlocal.api_server import patch_chalice_local

    serial_moto.apply()
    patch_chalice_local()
    proofs = tempfile.mkdtemp(prefix="fairslot-hold-path-")  # R10: the registry and the codes' outbox
    os.environ.update({"IDENTITY_REGISTRY_FILE": os.path.join(proofs, "registry.jsonl"), "OUTBOX_DIR": os.path.join(proofs, "outbox")})
    with mock_aws(), tempfile.TemporaryDirectory() as project:
        from chalicelib import storage

        storage.ensure_tables()
        import app as application
        from tests.support import Api

        with Client(application.app, project_dir=project) as client:
            api = Api(client)
            api.create_site("herault", procedures=("student",))
            api.set_policy("herault", "student", allocation="fcfs")
            api.schedule("herault", "student", slot_minutes=15, counters=2)
            slots = api.slots("herault", "student", limit=3)
            assert api.hold(slots[0]["slot_id"], applicant(1), ip="192.0.2.1").status == 201
            api.prove(applicant(2), "herault", "student", ip="192.0.2.2")  # the code step is not the hold's path
            tracer = Tracer()
            sys.setprofile(tracer)
            try:
                reply = api.hold(slots[1]["slot_id"], applicant(2), ip="192.0.2.2")
            finally:
                sys.setprofile(None)
            assert reply.status == 201, reply
    print("A warm POST /holds through the product code (app.py, chalicelib/), modules in the order entered:")
    for module in tracer.order:
        print(f"  {module:44s} calls {tracer.calls[module]:5d}")
    print(f"modules: {len(tracer.order)}  calls: {sum(tracer.calls.values())}  module-to-module switches: {tracer.switches}")


if __name__ == "__main__":
    main()
