"""Cost of a schema library at cold start: import it and declare POST /holds' body, in fresh interpreters, against `import boto3`.

How chalicelib/http/contract.py (stdlib) was chosen (DEVELOPERS.md). pydantic v2 comes with the dev venv;
msgspec is not a dependency: install it apart and point MSGSPEC_PATH at it to include it:

    .venv/bin/pip install --target /tmp/msgspec msgspec && MSGSPEC_PATH=/tmp/msgspec .venv/bin/python bench/schema_libs.py
"""
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MSGSPEC_PATH = os.environ.get("MSGSPEC_PATH", "")
PY = sys.executable
SNIPPETS = {
 "boto3": "import boto3",
 "contract (stdlib, in-house)": "import sys; sys.path.insert(0, ROOT); from chalicelib.http import contract; contract.HOLD_BODY",
 "pydantic v2": """
from datetime import date
from typing import Literal, Optional
from pydantic import BaseModel, Field
class Document(BaseModel):
    type: Literal['agdref','passport','visa']; number: str = Field(max_length=40)
class Applicant(BaseModel):
    document: Document; birth_date: date; family_name: str = Field(min_length=1, max_length=100)
    given_names: str = Field(min_length=1, max_length=150); email: str = Field(max_length=254, pattern=r'^[^@\\s]{1,64}@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)+$')
    phone: Optional[str] = Field(default=None, max_length=20)
class Hold(BaseModel):
    slot_id: str = Field(min_length=1, max_length=64); applicant: Applicant
Hold.model_json_schema()
""",
 "msgspec": """
import sys; sys.path.insert(0, MSGSPEC_PATH)
import datetime, typing, msgspec
from typing import Annotated, Literal, Optional
class Document(msgspec.Struct):
    type: Literal['agdref','passport','visa']; number: Annotated[str, msgspec.Meta(max_length=40)]
class Applicant(msgspec.Struct):
    document: Document; birth_date: datetime.date; family_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    given_names: Annotated[str, msgspec.Meta(min_length=1, max_length=150)]; email: Annotated[str, msgspec.Meta(max_length=254)]
    phone: Optional[str] = None
class Hold(msgspec.Struct):
    slot_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]; applicant: Applicant
msgspec.json.schema(Hold)
""",
}
env = {**os.environ, "AWS_DEFAULT_REGION": "eu-west-3"}
for name, code in SNIPPETS.items():
    runs = []
    for _ in range(7):
        code = code.replace("ROOT", repr(ROOT)).replace("MSGSPEC_PATH", repr(MSGSPEC_PATH))
        out = subprocess.run([PY, "-c", "import time; t=time.perf_counter()\n" + code + "\nprint(time.perf_counter()-t)"],
                             capture_output=True, text=True, env=env)
        if out.returncode:
            print(f"{name:32s} not measured: {out.stderr.strip().splitlines()[-1]}")
            break
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    if runs:
        print(f"{name:32s} median {statistics.median(runs)*1000:7.1f} ms over {len(runs)} runs")
