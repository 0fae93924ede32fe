"""``kumahc diff`` reads BEFORE and AFTER like every other command reads its PATHs: an unreadable file is an input
error (exit 1, the OS reason), not a usage error from the argument parser (exit 2)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from helpers import REPO, file_modes_apply

MESH = REPO / "examples" / "complete" / "mesh"


@pytest.mark.parametrize("side", ["before", "after"])
def test_unreadable_side_is_an_input_error(tmp_path, side: str) -> None:
    for name in ("a.yaml", "b.yaml"):
        shutil.copyfile(MESH / "policy.yaml", tmp_path / name)
    unreadable = "a.yaml" if side == "before" else "b.yaml"
    (tmp_path / unreadable).chmod(0)
    r = subprocess.run(file_modes_apply([sys.executable, "-c", "from kumahc.cli import main; main()", "diff",
                                         "a.yaml", "b.yaml"]), capture_output=True, text=True, timeout=600,
                       cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", f"{unreadable}: cannot read: Permission denied\n"
                                                         "found 1 error\n")
