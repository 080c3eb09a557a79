"""The environment of the in-process benchmarks: moto's in-memory DynamoDB, no AWS, no metrics output
(as tests/conftest.py sets it for the tests)."""
import os


def use_in_process_engine(**extra):
    """Call before importing chalicelib: configuration is read from these variables."""
    os.environ.update({
        "FAIRSLOT_LOCAL": "1",
        "TABLE_PREFIX": "fairslot-bench",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_REGION": "eu-west-3",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "KEY_ROOT": "bench-key-root",
        "STAFF_JWT_SECRET": "bench-staff-secret-at-least-32-bytes-long",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        **extra,
    })
    os.environ.pop("DYNAMODB_ENDPOINT", None)
