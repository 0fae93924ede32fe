"""``kumahc completion bash|zsh|fish`` (issue 23): the bash script is loaded into a real bash, and its completion
function is called the way bash calls it on TAB (COMP_WORDS/COMP_CWORD set), so every answer below went through
the script, a real ``kumahc`` process (the venv's, i.e. this checkout) and click's completion protocol. Bad or too
large inputs give no candidates and nothing on stderr."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import REPO, refusing_port
from shellrun import BIN, WAIT_S, complete, venv_env

from kumahc.commands import completion


def test_bash_script_is_clicks_and_registers_the_function() -> None:
    script = subprocess.run([BIN / "kumahc", "completion", "bash"], capture_output=True, text=True, check=True,
                            env=venv_env()).stdout
    # The same script click itself prints for _KUMAHC_COMPLETE=bash_source.
    assert script == subprocess.run([BIN / "kumahc"], capture_output=True, text=True, check=True,
                                    env=venv_env(_KUMAHC_COMPLETE="bash_source")).stdout
    load = "source <(kumahc completion bash) && complete -p kumahc"
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", load], capture_output=True, text=True, env=venv_env(),
                          timeout=WAIT_S)
    assert (done.returncode, done.stdout, done.stderr) == (0, "complete -o nosort -F _kumahc_completion kumahc\n", "")


def test_proxy_names_from_the_paths_on_the_command_line() -> None:
    assert complete("render", "examples/complete/mesh", "--proxy", "w") == ["web-01"]
    assert complete("render", "examples/complete/mesh", "--proxy", "") == ["backend-01", "backend-02", "web-01"]
    # MESH/NAME once a "/" is typed; the PATH may come after other options.
    assert complete("render", "--strict", "examples/complete/mesh", "--proxy", "default/b") == [
        "default/backend-01", "default/backend-02"]
    assert complete("inspect", "examples/complete/mesh", "--proxy", "web") == ["web-01"]
    # diff: the proxies of both sides.
    assert complete("diff", "examples/diff/before", "examples/diff/after", "--proxy", "") == [
        "backend-01", "backend-02", "web-01"]


def test_policy_names_for_inspect() -> None:
    assert complete("inspect", "examples/kong/mesh-precedence.yaml", "--policy", "") == [
        "KongUpstreamPolicy/shop/backend-hc", "MeshHealthCheck/web-backend"]
    assert complete("inspect", "examples/kong/mesh-precedence.yaml", "--policy", "Kong") == [
        "KongUpstreamPolicy/shop/backend-hc"]


def test_kinds_in_any_case_and_plural() -> None:
    assert complete("get", "meshh") == ["meshhealthcheck", "meshhealthchecks", "meshhttproute", "meshhttproutes"]
    assert complete("get", "MeshH") == ["MeshHTTPRoute", "MeshHealthCheck"]
    assert complete("get", "MESHH") == ["meshhealthcheck", "meshhealthchecks", "meshhttproute", "meshhttproutes"]
    assert complete("delete", "mesh") == ["mesh", "meshcircuitbreaker", "meshcircuitbreakers", "meshes",
                                          "meshgateway", "meshgateways", "meshhealthcheck", "meshhealthchecks",
                                          "meshhttproute", "meshhttproutes", "meshservice", "meshservices",
                                          "meshtcproute", "meshtcproutes"]
    assert complete("get", "kong") == ["kongupstreampolicies", "kongupstreampolicy"]
    assert complete("get", "") == ["circuitbreakers", "dataplanes", "healthchecks", "kongupstreampolicies",
                                   "meshcircuitbreakers", "meshes", "meshgateways", "meshhealthchecks",
                                   "meshhttproutes", "meshservices", "meshtcproutes", "services"]


def test_commands_and_options() -> None:
    assert complete("ve") == ["version"]
    assert complete("comp") == ["completion"]
    assert complete("render", "--prox") == ["--proxy"]
    assert complete("completion", "") == ["bash", "zsh", "fish"]


def test_bad_inputs_give_no_candidates(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("type: MeshHealthCheck\nname: x\nspec: [\n")
    assert complete("render", str(tmp_path / "bad.yaml"), "--proxy", "") == []
    assert complete("render", str(tmp_path / "missing"), "--proxy", "") == []
    assert complete("render", "-", "--proxy", "") == []  # standard input: a TAB never waits for it
    assert complete("render", "--max-file-size", "nonsense", "examples/complete/mesh", "--proxy", "w") == ["web-01"]
    assert complete("get", "nosuchkind", "") == []
    with refusing_port() as port:
        url = f"postgresql://kumahc@127.0.0.1:{port}/kumahc"
        assert complete("get", "meshes", "--store", url, "") == []
        assert complete("render", "--proxy", "", KUMAHC_STORE=url) == []


def test_inputs_over_the_limits_give_no_candidates(tmp_path: Path) -> None:
    mesh = REPO / "examples" / "complete" / "mesh"
    many = tmp_path / "many"
    many.mkdir()
    for f in mesh.iterdir():
        shutil.copy(f, many / f.name)
    assert complete("render", str(many), "--proxy", "w") == ["web-01"]
    for i in range(completion.MAX_FILES):
        (many / f"empty-{i:04}.yaml").write_text("")
    assert complete("render", str(many), "--proxy", "w") == []  # MAX_FILES + 2 files
    big = tmp_path / "big"
    big.mkdir()
    shutil.copy(mesh / "dataplanes.yaml", big / "dataplanes.yaml")
    with open(big / "zz.yaml", "w") as fh:
        fh.write("#" * (completion.MAX_FILE_BYTES + 1) + "\n")
    assert complete("render", str(big), "--proxy", "w") == []


def test_zsh_and_fish_scripts_are_printed() -> None:
    for shell, first in (("zsh", "#compdef kumahc\n"), ("fish", "function _kumahc_completion;\n")):
        done = subprocess.run([BIN / "kumahc", "completion", shell], capture_output=True, text=True, env=venv_env())
        assert (done.returncode, done.stderr) == (0, "")
        assert done.stdout.startswith(first)
        assert done.stdout == subprocess.run([BIN / "kumahc"], capture_output=True, text=True, check=True,
                                             env=venv_env(_KUMAHC_COMPLETE=f"{shell}_source")).stdout


def _need(shell: str) -> None:
    """Skip on a developer's machine without ``shell``; FAIL under CI (``CI=true``), which installs it (.ci/run)."""
    if shutil.which(shell) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the {shell} completion tests: {shell} is not installed (.ci/run installs it)")
        pytest.skip(f"{shell} is not installed")


@pytest.mark.parametrize("shell,load", [
    ("zsh", "autoload -U compinit && compinit -u && source <(kumahc completion zsh) && whence -w _kumahc_completion"),
    ("fish", "kumahc completion fish | source; and complete -c kumahc"),
])
def test_zsh_and_fish_scripts_load(shell: str, load: str) -> None:
    _need(shell)
    done = subprocess.run([shell, "-c", load], capture_output=True, text=True, env=venv_env(), timeout=WAIT_S,
                          stdin=subprocess.DEVNULL)
    assert (done.returncode, done.stderr) == (0, "")
    assert "_kumahc_completion" in done.stdout


def test_fish_completes_a_proxy_name() -> None:
    _need("fish")
    load = "kumahc completion fish | source; and complete -C 'kumahc render examples/complete/mesh --proxy w'"
    done = subprocess.run(["fish", "-c", load], capture_output=True, text=True, env=venv_env(), cwd=REPO,
                          timeout=WAIT_S, stdin=subprocess.DEVNULL)
    assert (done.returncode, done.stdout, done.stderr) == (0, "web-01\n", "")


def test_unknown_shell_is_a_usage_error() -> None:
    done = subprocess.run([BIN / "kumahc", "completion", "powershell"], capture_output=True, text=True, env=venv_env())
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.endswith("Error: Invalid value for 'SHELL': 'powershell' is not one of 'bash', 'zsh', "
                                "'fish'.\n")
