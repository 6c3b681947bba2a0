"""What the deploy tier's checks share: finding the tools they run."""
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
IN_CI = os.environ.get("CI") == "true"


def tool(name):
    """The path of a tool a check runs (the venv's, then PATH, then the sbin directories PATH may lack); a missing
    one fails under CI and skips elsewhere."""
    candidates = [VENV_BIN / name, shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"]
    path = next((str(p) for p in candidates if p and os.path.exists(p)), None)
    if path is None:
        message = f"{name} is not installed (tools/setup installs it; kubectl comes with the machine image)"
        if IN_CI:
            pytest.fail(message + "; CI=true: a missing tool is a failure")
        pytest.skip(message)
    return path
