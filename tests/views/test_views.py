"""Golden-style cases for the views: ``diff``, ``render -o table`` and ``inspect --policy``.

Each directory of tests/data/views is a case: input files, ``args`` (the command line after ``kumahc``, run in the
case directory) and the exact expected ``stdout``, ``stderr`` and exit ``code``. ``KUMAHC_UPDATE_VIEWS=1`` rewrites
the expected files of the cases that differ, and those cases still fail (review the diff, then run again). A case
may read a sibling's inputs (``../CASE/FILE``) so the same Dataplanes are not copied into every case.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from helpers import DATA, run

CASES = DATA / "views"
UPDATE = os.environ.get("KUMAHC_UPDATE_VIEWS") == "1"


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_view(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = CASES / case
    monkeypatch.chdir(directory)
    r = run(*shlex.split((directory / "args").read_text()))
    actual = {"stdout": r.out, "stderr": r.err, "code": f"{r.code}\n"}
    expected = {name: (directory / name).read_text(encoding="utf-8") if (directory / name).exists() else None
                for name in actual}
    if UPDATE and actual != expected:
        for name, text in actual.items():
            Path(directory / name).write_text(text, encoding="utf-8")
        pytest.fail(f"{case}: expected files rewritten (KUMAHC_UPDATE_VIEWS=1): review the diff and run again")
    assert actual == expected


def test_diff_exit_codes_are_distinct() -> None:
    """0 no change, 3 changes, 1 invalid input, 2 usage: CI can tell them apart."""
    codes = {(CASES / c / "code").read_text().strip() for c in ("diff-none", "diff-policy-change")}
    assert codes == {"0", "3"}
    assert run("diff", str(CASES / "diff-none" / "dataplanes.yaml")).code == 2
    bad = DATA.parent.parent / "examples" / "invalid" / "bad.yaml"
    r = run("diff", str(CASES / "diff-none" / "dataplanes.yaml"), str(bad))
    assert (r.code, r.out) == (1, "")
    assert r.lines[-1].startswith("found ")
