"""infra/slim_package.py drops what the Lambda runtime provides and adds .pyc, nothing else."""
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))

from slim_package import slim  # noqa: E402


def test_slim_drops_runtime_provided_packages_and_precompiles(tmp_path):
    runtime = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    (tmp_path / "sam.json").write_text('{"Runtime": "%s"}' % runtime)
    with zipfile.ZipFile(tmp_path / "deployment.zip", "w") as archive:
        archive.writestr("app.py", "import chalicelib.thing\n")
        archive.writestr("chalicelib/thing.py", "VALUE = 1\n")
        archive.writestr("pynamodb/__init__.py", "")
        archive.writestr("botocore/__init__.py", "")
        archive.writestr("botocore-1.44.8.dist-info/METADATA", "")
        archive.writestr("python_dateutil-2.9.0.post0.dist-info/METADATA", "")
        archive.writestr("six.py", "")
        archive.writestr("urllib3/__init__.py", "")
    slim(tmp_path)
    names = set(zipfile.ZipFile(tmp_path / "deployment.zip").namelist())
    assert not [n for n in names if n.startswith(("botocore", "urllib3", "six.py", "python_dateutil"))]
    assert {"app.py", "chalicelib/thing.py", "pynamodb/__init__.py"} <= names
    assert any(n.startswith("chalicelib/__pycache__/thing.") and n.endswith(".pyc") for n in names)
