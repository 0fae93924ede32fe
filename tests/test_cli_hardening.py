"""The CLI under hostile or careless use (issues 18 and 24): ``--max-documents`` bounds memory while parsing, the
input limits on every command that reads files, ``golden update`` never writes outside its directory, an ``args``
file cannot make a case pass unrendered, and ``| head -1`` ends quietly. Real processes where memory, pipes or
exit statuses are measured; the in-process runner elsewhere."""

from __future__ import annotations

import difflib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import MESH_WIDE_MHC, REPO, SKIPPED, Workspace, run

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.generator import generate  # noqa: E402

KUMAHC = [sys.executable, "-c", "from kumahc.cli import main; main()"]
TIMEOUT = 1800  # seconds: generous, the machine is shared; only a hang reaches it
MIB = 1024  # ru_maxrss is in KiB

MHC = MESH_WIDE_MHC
HC = """\
type: HealthCheck
name: hc
mesh: default
sources:
- match: {kuma.io/service: web}
destinations:
- match: {kuma.io/service: backend}
conf: {interval: 10s, timeout: 2s, unhealthyThreshold: 3, healthyThreshold: 1}
"""


def _env() -> dict[str, str]:
    # As a user's shell runs it: with PYTHONUNBUFFERED a large write to a closed pipe can end without any error.
    return {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


# --- --max-documents: memory follows the limit, not the file --------------------------------------------------

DOCUMENTS = 1_700_000
# About 35 bytes each: 59.5 MB, under the default --max-file-size, so only the document limit stops the read.
TINY = "---\nkind: Note\nname: n{:07d}\nx: 1\n"
# The peak RSS of a run that stops at the default limit (200,000 documents) was about 1.8 GB before the limit was
# enforced while parsing (every document of the file parsed first), about 430 MB since (the file's text, the
# 200,000 documents before the limit and their warnings). 800 MB sits between the two.
PEAK_LIMIT_MIB = 800
LIMIT_LINE = "many.yaml:800001: more than 200,000 documents in the inputs (raise the limit with --max-documents)"


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("many")
    with open(root / "many.yaml", "w", encoding="ascii") as fh:
        for start in range(0, DOCUMENTS, 100_000):
            fh.write("".join(TINY.format(i) for i in range(start, start + 100_000)))
    assert 55_000_000 < (root / "many.yaml").stat().st_size < 64 * 1024 * 1024
    return root


# Linux carries a process's peak RSS across exec, and a child forked (or vforked) from pytest starts at pytest's own
# peak, which grows over a whole-suite run. So kumahc runs as the child of a small interpreter and that one reports
# its child's peak (RUSAGE_CHILDREN of a process with one child).
_PEAK = """import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as fh:
    fh.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(code)
"""


def _measured(args: list[str], cwd: Path) -> tuple[int, str, str, int]:
    """(exit code, stdout, stderr, peak RSS in KiB) of ``kumahc ARGS``: its own peak, not its parent's."""
    out_path, err_path, peak_path = cwd / "out.txt", cwd / "err.txt", cwd / "peak.txt"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        code = subprocess.call([sys.executable, "-c", _PEAK, str(peak_path), *KUMAHC, *args], cwd=cwd, stdout=out,
                               stderr=err, stdin=subprocess.DEVNULL, env=_env(), timeout=TIMEOUT)
    return code, out_path.read_text(), err_path.read_text(), int(peak_path.read_text())


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if not line.startswith("warning: ")]


@pytest.mark.parametrize("command", ["validate", "render"])
def test_millions_of_documents_stop_at_the_limit_in_bounded_memory(many: Path, command: str) -> None:
    code, out, err, peak = _measured([command, "many.yaml"], many)
    assert (code, out) == (1, "")
    assert _errors(err) == [LIMIT_LINE, "found 1 error"]
    assert err.splitlines()[-3] == "warning: many.yaml:42: … and 199,990 more like this"
    assert peak < PEAK_LIMIT_MIB * MIB, f"peak RSS {peak // MIB} MiB"


def test_serve_refuses_millions_of_documents_in_bounded_memory(many: Path) -> None:
    code, out, err, peak = _measured(
        ["serve", "many.yaml", "--xds-address", "127.0.0.1:0", "--admin-address", "127.0.0.1:0"], many)
    assert code == 1, err
    assert LIMIT_LINE in err
    assert peak < PEAK_LIMIT_MIB * MIB, f"peak RSS {peak // MIB} MiB"


def test_a_small_limit_reads_little_of_a_large_file(many: Path) -> None:
    code, _, err, peak = _measured(["validate", "many.yaml", "--max-documents", "10"], many)
    assert code == 1
    assert _errors(err) == [
        "many.yaml:41: more than 10 documents in the inputs (raise the limit with --max-documents)", "found 1 error"]
    # The file's text (60 MB as bytes and as text while it is decoded) and the interpreter: no documents' worth.
    assert peak < 300 * MIB, f"peak RSS {peak // MIB} MiB"


def test_document_separators_inside_scalars_are_not_documents(ws: Workspace) -> None:
    # The cheap count sees 6 markers; libyaml's events see 2 documents: under a limit of 3, all is read.
    ws.write("a.yaml", 'kind: Foo\nname: "--- ... ---"\nnote: |\n  ---\n  ...\n---\nkind: Bar\n# --- ...\n')
    r = run("validate", "a.yaml", "--max-documents", "3")
    assert (r.code, r.out) == (0, "ok: 0 resources in 1 files\n")
    assert r.lines == [f'warning: a.yaml:1: document 1: kind: skipped kind "Foo" ({SKIPPED})',
                       f'warning: a.yaml:7: document 2: kind: skipped kind "Bar" ({SKIPPED})']
    lines = ws.fails("validate", "a.yaml", "--max-documents", "1")
    assert lines[-1] == "a.yaml:6: more than 1 documents in the inputs (raise the limit with --max-documents)"


def test_cut_at_the_limit_keeps_the_documents_before_it(ws: Workspace) -> None:
    # Non-ASCII text and CRLF line breaks: the cut is placed by lines, the documents before it are all checked.
    body = "".join(f"---\r\nkind: Nöte\r\nname: n{i}\r\n" for i in range(5))
    ws.write_bytes("crlf.yaml", body.encode("utf-8"))
    lines = ws.fails("validate", "crlf.yaml", "--max-documents", "3")
    assert lines == [f'warning: crlf.yaml:{2 + 3 * i}: document {i + 1}: kind: skipped kind "Nöte" ({SKIPPED})'
                     for i in range(3)] + [
        "crlf.yaml:10: more than 3 documents in the inputs (raise the limit with --max-documents)"]


# --- --max-file-size and --max-documents on the other commands ------------------------------------------------

SIZE_LINE = "big.yaml: cannot read: larger than 1 KiB (raise the limit with --max-file-size)"
COUNT_LINE = "many.yaml:{}: more than 1,000 documents in the inputs (raise the limit with --max-documents)"


@pytest.fixture
def limited(ws: Workspace) -> Workspace:
    ws.write("a.yaml", MHC.format(name="p") + "---\n" + HC)
    ws.write_bytes("big.yaml", b"# padding\n" * 200)  # 2,000 bytes
    ws.write_bytes("many.yaml", b"---\nx: 1\n" * 3000)
    return ws


COMMANDS = {
    "render": ["render", "a.yaml", "{extra}"],
    "inspect": ["inspect", "a.yaml", "{extra}", "--proxy", "web"],
    "migrate": ["migrate", "a.yaml", "{extra}"],
    "diff": ["diff", "a.yaml", "{extra}"],
}


def _args(command: str, extra: str, *flags: str) -> list[str]:
    return [extra if a == "{extra}" else a for a in COMMANDS[command]] + list(flags)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_max_file_size_on_every_reading_command(limited: Workspace, command: str) -> None:
    r = run(*_args(command, "big.yaml", "--max-file-size", "1KiB"))
    assert (r.code, r.out, r.lines) == (1, "", [SIZE_LINE, "found 1 error"])
    assert run(*_args(command, "big.yaml", "--max-file-size", "2000")).code in (0, 3)  # 3: diff found changes


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_max_documents_on_every_reading_command(limited: Workspace, command: str) -> None:
    r = run(*_args(command, "many.yaml", "--max-documents", "1000"))
    assert (r.code, r.out) == (1, "")
    # Document 1,001 is many.yaml's 999th after a.yaml's 2 (line 1997), or its 1,001st for diff, which reads
    # each side on its own (line 2001).
    line = COUNT_LINE.format(2001 if command == "diff" else 1997)
    assert [line for line in r.lines if not line.startswith("warning: ")] == [line, "found 1 error"]
    r = run(*_args(command, "many.yaml", "--max-documents", "3002"))  # a.yaml's 2 and many.yaml's 3,000
    assert r.code in (0, 3), r.err


def test_diff_counts_documents_on_each_side(limited: Workspace) -> None:
    # 3,000 documents on one side and 2 on the other: within a limit of 3,000 per side, not of their sum.
    assert run("diff", "many.yaml", "a.yaml", "--max-documents", "3000").code == 3


# --- golden: update stays inside DIR, args cannot make a case pass ------------------------------------------

CASE = "complete-example"


@pytest.fixture
def golden(ws: Workspace) -> Path:
    """A copy of one committed golden case, in ``g/`` under the working directory."""
    shutil.copytree(REPO / "golden" / CASE, ws.root / "g" / CASE)
    return ws.root / "g" / CASE


def test_golden_update_refuses_an_expected_file_linked_outside(ws: Workspace, golden: Path) -> None:
    outside = ws.write("outside.json", "{}\n")
    (golden / "expected.json").unlink()
    os.symlink(outside, golden / "expected.json")
    r = run("golden", "update", "g")
    assert (r.code, r.out) == (1, "")
    assert r.lines == [f"error: g/{CASE}/expected.json: resolves to {outside}, outside g: not written"]
    assert outside.read_text() == "{}\n"
    assert os.readlink(golden / "expected.json") == str(outside)


def test_golden_update_refuses_a_case_directory_linked_outside(ws: Workspace, golden: Path) -> None:
    elsewhere = ws.root / "elsewhere"
    golden.rename(elsewhere)
    expected = (elsewhere / "expected.json").read_bytes()
    (elsewhere / "expected.json").write_text("{}\n")
    os.symlink("../elsewhere", golden)
    r = run("golden", "update", "g")
    assert (r.code, r.out) == (1, "")
    assert r.lines == [f"error: g/{CASE}: resolves to {elsewhere}, outside g: not written"]
    assert (elsewhere / "expected.json").read_text() == "{}\n"
    # Reading through the link is harmless: check still compares it.
    (elsewhere / "expected.json").write_bytes(expected)
    assert run("golden", "check", "g").out == "golden: 1 passed, 0 failed\n"


ALLOWED = "--proxy, --output, --protocol, --strict, --endpoints are"
NOT_A_FORMAT = ("Invalid value for '-o' / '--output': 'out.json' is not an output format (one of json, yaml, table, "
                "wide, name); to write to a file, use --output-file out.json")


@pytest.mark.parametrize(("args", "message"), [
    ("--help", f"-h/--help is not allowed in a golden case ({ALLOWED})"),
    ("--proxy web-01 -h", f"-h/--help is not allowed in a golden case ({ALLOWED})"),
    ("--proxy web-01 -o out.json", NOT_A_FORMAT),
    ("--output=out.json", NOT_A_FORMAT),
    ("--output-file out.json", f"--output-file is not allowed in a golden case ({ALLOWED})"),
    ("-o table", "-o table: a golden case is rendered as JSON (expected.json): only -o json is allowed"),
    ("--store postgresql://kumahc@127.0.0.1:1/kumahc", f"--store is not allowed in a golden case ({ALLOWED})"),
    ("--max-documents 1", f"--max-documents is not allowed in a golden case ({ALLOWED})"),
    ("--version", "No such option '--version'."),
    ("--proxy web-01 other.yaml", "PATH arguments are not allowed (the case directory is the input)"),
    ("--proxy 'web-01", "No closing quotation"),
])
@pytest.mark.parametrize("command", ["check", "update"])
def test_golden_args_cannot_skip_the_comparison(ws: Workspace, golden: Path, args: str, message: str,
                                                command: str) -> None:
    (golden / "args").write_text(args + "\n")
    (golden / "expected.json").write_text("{}\n")  # a mismatch, whatever the case renders
    r = run("golden", command, "g")
    assert (r.code, r.out, r.lines) == (1, "", [f"error: g/{CASE}/args: {message}"])
    assert (golden / "expected.json").read_text() == "{}\n"
    assert not (ws.root / "out.json").exists()


def test_golden_check_reports_a_mismatch_and_update_fixes_it(golden: Path) -> None:
    expected = (golden / "expected.json").read_text()
    assert '"interval": "60s"' in expected
    wrong = expected.replace('"interval": "60s"', '"interval": "61s"', 1)
    (golden / "expected.json").write_text(wrong)
    r = run("golden", "check", "g")
    diff = "".join(difflib.unified_diff(wrong.splitlines(keepends=True), expected.splitlines(keepends=True),
                                        f"{CASE}/expected.json", f"{CASE}/actual", n=3))
    changed = [line for line in diff.splitlines() if line[:1] in "-+" and line[:3] not in ("---", "+++")]
    assert changed == ['-              "interval": "61s",', '+              "interval": "60s",']
    assert (r.code, r.out) == (1, diff + "golden: 0 passed, 1 failed\n")
    r = run("golden", "update", "g")
    assert (r.code, r.out) == (0, f"updated {CASE}\ngolden: 1 cases, 1 updated\n")
    assert (golden / "expected.json").read_text() == expected
    r = run("golden", "check", "g")
    assert (r.code, r.out) == (0, "golden: 1 passed, 0 failed\n")
    r = run("golden", "update", "g")
    assert (r.code, r.out) == (0, "golden: 1 cases, 0 updated\n")


# --- a closed stdout ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mesh") / "small"
    generate(root, "small")
    return root


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_render_into_head_ends_quietly(mesh: Path, tmp_path: Path, fmt: str) -> None:
    err = tmp_path / "err.txt"
    command = " ".join([*KUMAHC[:2], repr(KUMAHC[2]), "render", str(mesh), "-o", fmt])
    # The output (hundreds of KiB) is far larger than a pipe's buffer: head has gone long before it is written.
    script = f'{command} 2>{err} | head -1; echo "status=${{PIPESTATUS[0]}}"'
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=TIMEOUT, env=_env())
    first, status = proc.stdout.splitlines()
    assert first == ("{" if fmt == "json" else "proxies:")
    assert status in ("status=0", "status=141")
    assert err.read_text() == ""


def test_render_output_is_larger_than_a_pipe(mesh: Path) -> None:
    # Guards the test above: with output that fits a pipe's buffer, head would close nothing kumahc writes to.
    assert len(run("render", str(mesh)).out) > 256 * 1024


CLOSED_STDOUT = {
    "validate": ["validate", "{mesh}"],
    "render": ["render", "{mesh}", "-o", "table"],
    "inspect": ["inspect", "{mesh}", "--policy", "MeshHealthCheck/kuma-system/mesh-000"],
    "migrate": ["migrate", str(REPO / "examples" / "healthcheck" / "seed001-http-universal.yaml")],
    "diff": ["diff", "{mesh}", str(REPO / "examples" / "complete" / "mesh")],
    "golden": ["golden", "check", str(REPO / "golden")],
}


@pytest.mark.parametrize("command", sorted(CLOSED_STDOUT))
def test_every_command_ends_quietly_on_a_closed_stdout(mesh: Path, command: str) -> None:
    # The reading end is closed before kumahc starts: its first write to stdout fails, however small the output
    # (validate's one line, or output buffered until the process exits).
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        args = [str(mesh) if a == "{mesh}" else a for a in CLOSED_STDOUT[command]]
        proc = subprocess.run([*KUMAHC, *args], stdout=write_end, stderr=subprocess.PIPE, text=True,
                              timeout=TIMEOUT, env=_env())
    finally:
        os.close(write_end)
    # Only what the command prints on stderr anyway (migrate's inputs have no Dataplane: preview mode).
    notes = "info: preview mode: no Dataplane in the inputs; synthesised proxies: default/web\n"
    assert (proc.returncode, proc.stderr) == (141, notes if command == "migrate" else "")
