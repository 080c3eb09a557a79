"""Where a staff-run draw runs: in the draw function in AWS (the only one that may open a sealed seed), in this process locally."""
import json
from typing import Any

from chalicelib.platform import config

_lambda: Any = None


def configured() -> bool:
    """DRAW_FUNCTION_NAME is set (the API function in AWS): staff-run draws go to that function."""
    return bool(config.current().draw_function_name)


def invoke(payload: dict[str, Any]) -> dict[str, Any]:
    """The draw function's answer to `payload`, invoked synchronously; RuntimeError if it failed."""
    global _lambda
    if _lambda is None:
        import boto3  # cold start: only a staff-run draw in AWS builds a Lambda client

        _lambda = boto3.client("lambda", region_name=config.current().region)
    response = _lambda.invoke(FunctionName=config.current().draw_function_name, InvocationType="RequestResponse",
                              Payload=json.dumps(payload).encode())
    if response.get("FunctionError"):
        raise RuntimeError(f"the draw function failed: {response['FunctionError']}")
    answer: dict[str, Any] = json.loads(response["Payload"].read())
    return answer
