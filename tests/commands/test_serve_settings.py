"""``kumahc serve``'s settings from flags, ``$KUMAHC_<OPTION>``, ``--config FILE`` and the defaults (issue 23 item 5):
the precedence of each pair, every option of the command reachable from the environment and from the file (the
list taken from the command itself), the usage errors (exit 2) that name the source, ``--print-config``'s exact
output with secrets masked, and one real server whose listeners, Host check and log format come from the three
places at once."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from kumahc_serve import WEB_ONLY, backend_http_check, serve, web_and_backend, write_mesh

from kumahc.cli import main
from kumahc.commands.serve import serve as serve_command
from kumahc.commands.settings import SettingsCommand, env_name, option_name, settings

USAGE = "Usage: main serve [OPTIONS] [PATH...]\nTry 'main serve --help' for help.\n\nError: "
SETTINGS = settings(serve_command)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``$KUMAHC_*`` of the machine running the tests leaks into them."""
    for param in SETTINGS:
        monkeypatch.delenv(env_name(param), raising=False)
    monkeypatch.delenv("KUMAHC_CONFIG", raising=False)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["serve", *args], env=env)


def printed(*args: str, env: dict[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """``--print-config``'s settings: {key: (value as YAML, source)}; exit 0 and nothing on stderr."""
    result = invoke(*args, "--print-config", env=env)
    assert (result.exit_code, result.stderr) == (0, ""), result.stderr
    out = {}
    for line in result.stdout.splitlines():
        if line.startswith("#"):
            continue
        setting, _, source = line.partition("  # ")
        key, _, value = setting.rstrip().partition(": ")
        out[key] = (value, source)
    return out


def config(tmp_path: Path, text: str, name: str = "kumahc.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def failure(result: Result) -> str:
    """The one ``Error:`` line of a usage error (exit 2), after click's usage lines."""
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    assert result.stderr.startswith(USAGE), result.stderr
    return result.stderr.removeprefix(USAGE)


# --- precedence, pair by pair ---------------------------------------------------------------------------------------

def test_flag_beats_environment(tmp_path: Path) -> None:
    got = printed("--log-format", "json", "--xds-address", "127.0.0.1:7",
                  env={"KUMAHC_LOG_FORMAT": "text", "KUMAHC_XDS_ADDRESS": "127.0.0.1:8"})
    assert got["log-format"] == ("json", "flag")
    assert got["xds-address"] == ("127.0.0.1:7", "flag")


def test_environment_beats_file(tmp_path: Path) -> None:
    path = config(tmp_path, """\
        log-format: text
        admin-allowed-host: [from-file]
        strict: false
        """)
    got = printed("--config", path, env={"KUMAHC_LOG_FORMAT": "json", "KUMAHC_ADMIN_ALLOWED_HOST": "a.test b.test",
                                         "KUMAHC_STRICT": "true"})
    assert got["log-format"] == ("json", "$KUMAHC_LOG_FORMAT")
    assert got["admin-allowed-host"] == ("[a.test, b.test]", "$KUMAHC_ADMIN_ALLOWED_HOST")
    assert got["strict"] == ("true", "$KUMAHC_STRICT")


def test_file_beats_default(tmp_path: Path) -> None:
    path = config(tmp_path, """\
        log-format: json
        max-documents: 10
        ui: false
        """)
    assert printed()["log-format"] == ("text", "default")
    got = printed("--config", path)
    assert got["log-format"] == ("json", path)
    assert got["max-documents"] == ("10", path)
    assert got["ui"] == ("false", path)
    assert got["log-level"] == ("info", "default")


def test_config_flag_beats_kumahc_config(tmp_path: Path) -> None:
    by_env = config(tmp_path, "log-level: debug\n", "env.yaml")
    by_flag = config(tmp_path, "log-level: error\n", "flag.yaml")
    assert printed(env={"KUMAHC_CONFIG": by_env})["log-level"] == ("debug", by_env)
    assert printed("--config", by_flag, env={"KUMAHC_CONFIG": by_env})["log-level"] == ("error", by_flag)


def test_null_in_the_file_is_the_default(tmp_path: Path) -> None:
    assert printed("--config", config(tmp_path, "log-format:\nprotocol: null\n"))["log-format"] == ("text", "default")


# --- every option, derived from the command ---------------------------------------------------------------------------

def sample(param: click.Option) -> tuple[str, str]:
    """(a valid value that is not the default, as an environment variable holds it; as --print-config shows it),
    chosen by the option's type and metavar so that an option added to serve is covered without editing this."""
    if isinstance(param.type, click.Choice):
        choice = next(c for c in reversed(param.type.choices) if c != param.default)
        return str(choice), str(choice)
    if isinstance(param.type, click.types.BoolParamType):
        value = "false" if param.default is None or param.default else "true"
        return value, value
    if isinstance(param.type, click.types.IntParamType):
        return "7", "7"
    if isinstance(param.type, click.types.FloatParamType):
        return "7.5", "7.5"
    by_metavar = {"HOST:PORT": "127.0.0.1:7", "SIZE": "7KiB", "URL": "postgresql://kumahc@127.0.0.1:7/kumahc"}
    value = by_metavar.get(param.metavar or "", "sample-value")
    if param.multiple:
        return f"{value} other", f"[{value}, other]"
    return value, value


def test_every_option_is_a_setting() -> None:
    """The settings are the command's options (a new option is one too), with the names their flags have."""
    flags = {o for p in serve_command.params if isinstance(p, click.Option) for o in p.opts}
    assert {"--xds-address", "--log-format", "--store", "--ui", "--max-file-size"} <= {f"--{option_name(p)}"
                                                                                       for p in SETTINGS}
    # -q/--quiet is kumahc's global flag (progress only), accepted after the command too: not a serve setting.
    assert {f"--{option_name(p)}" for p in SETTINGS} == flags - {"--help", "-h", "--config", "--print-config",
                                                                  "-q", "--quiet"}
    assert env_name(next(p for p in SETTINGS if p.name == "store")) == "KUMAHC_STORE"
    assert env_name(next(p for p in SETTINGS if p.name == "admin_allowed_hosts")) == "KUMAHC_ADMIN_ALLOWED_HOST"


@pytest.mark.parametrize("param", SETTINGS, ids=option_name)
def test_every_option_from_the_environment(param: click.Option) -> None:
    raw, shown = sample(param)
    variable = env_name(param)
    assert variable == "KUMAHC_" + option_name(param).upper().replace("-", "_")
    assert printed(env={variable: raw})[option_name(param)] == (shown, f"${variable}")


@pytest.mark.parametrize("param", SETTINGS, ids=option_name)
def test_every_option_from_the_file(param: click.Option, tmp_path: Path) -> None:
    raw, shown = sample(param)
    value: object = raw.split() if param.multiple else raw
    path = config(tmp_path, json.dumps({option_name(param): value}))  # JSON is YAML
    assert printed("--config", path)[option_name(param)] == (shown, path)


def test_print_config_reads_back_as_the_same_settings(tmp_path: Path) -> None:
    """Without its comments the output is a config file: read back, every value is the same (from the file)."""
    first = invoke("--log-format", "json", "--admin-allowed-host", "a.test", "--strict", "--max-file-size", "1KiB",
                   "--print-config", env={"KUMAHC_XDS_ADDRESS": "[::1]:0"})
    assert first.exit_code == 0
    path = config(tmp_path, first.stdout)
    again = printed("--config", path)
    assert {k: v for k, (v, _) in again.items()} == {k: v for k, (v, _) in printed(
        "--log-format", "json", "--admin-allowed-host", "a.test", "--strict", "--max-file-size", "1KiB",
        env={"KUMAHC_XDS_ADDRESS": "[::1]:0"}).items()}
    assert again["xds-address"] == ("'[::1]:0'", path)


# --- errors ---------------------------------------------------------------------------------------------------------

def test_unknown_key_names_the_file_the_key_and_close_matches(tmp_path: Path) -> None:
    path = config(tmp_path, "log-format: json\nxds_address: 127.0.0.1:0\n")
    assert failure(invoke("--config", path)) == (
        f"{path}: xds_address: unknown setting; did you mean xds-address or admin-address? (keys are the option "
        "names without '--', with dashes)\n")


def test_unknown_key_without_close_match_lists_the_settings(tmp_path: Path) -> None:
    path = config(tmp_path, "colour: blue\n")
    names = ", ".join(sorted(option_name(p) for p in SETTINGS))
    assert failure(invoke("--config", path)) == (
        f"{path}: colour: unknown setting; the settings are {names} (keys are the option names without '--', "
        "with dashes)\n")


@pytest.mark.parametrize("text, message", [
    ("log-format: xml\n", "Invalid value for {path}: log-format: 'xml' is not one of 'text', 'json'."),
    ("xds-address: nope\n", 'Invalid value for {path}: xds-address: "nope" is not HOST:PORT'),
    ("max-documents: 0\n", "Invalid value for {path}: max-documents: 0 is not in the range x>=1."),
    ("max-documents: 1.5\n", "Invalid value for {path}: max-documents: '1.5' is not a valid integer range."),
    ("max-file-size: 1 TB\n", "Invalid value for {path}: max-file-size: "),
    ("strict: maybe\n", "Invalid value for {path}: strict: 'maybe' is not a valid boolean."),
    ("admin-allowed-host: a.test\n", "{path}: admin-allowed-host: must be a list of values (one per "
                                     "--admin-allowed-host)"),
    ("log-level: [debug]\n", "{path}: log-level: must be one value (a string, number or boolean), not a list"),
    ("- log-format\n", "{path}: must be a mapping of settings (option: value), not a list"),
    ("log-level: debug\nlog-level: info\n", "{path}:2: log-level: given twice"),
    ("log-level: [debug\n", "{path}:2: not valid YAML: "),
    ("log-level: info\n---\nlog-level: debug\n", "{path}:2: not valid YAML: but found another document"),
    ("log-level: " + "[" * 70 + "]" * 70 + "\n", "{path}:1: not valid YAML: nesting deeper than 64 levels"),
])
def test_bad_file_is_a_usage_error_naming_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = config(tmp_path, text)
    line = failure(invoke("--config", path))
    expected = message.format(path=path)
    assert line.startswith(expected) and line.count("\n") == 1, line


def test_bad_environment_value_names_the_variable() -> None:
    assert failure(invoke(env={"KUMAHC_LOG_FORMAT": "xml"})) == (
        "Invalid value for $KUMAHC_LOG_FORMAT: 'xml' is not one of 'text', 'json'.\n")
    assert failure(invoke(env={"KUMAHC_ADMIN_ADDRESS": "nope"})) == (
        'Invalid value for $KUMAHC_ADMIN_ADDRESS: "nope" is not HOST:PORT\n')


def test_bad_flag_value_names_the_flag() -> None:
    assert failure(invoke("--log-format", "xml", env={"KUMAHC_LOG_FORMAT": "json"})) == (
        "Invalid value for '--log-format': 'xml' is not one of 'text', 'json'.\n")


def test_unreadable_config_names_its_source(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert failure(invoke("--config", str(missing))) == (
        f"Invalid value for '--config': cannot read {missing}: No such file or directory\n")
    assert failure(invoke(env={"KUMAHC_CONFIG": str(missing)})) == (
        f"Invalid value for $KUMAHC_CONFIG: cannot read {missing}: No such file or directory\n")


# --- --print-config -------------------------------------------------------------------------------------------------

def test_print_config_exact_output_with_the_password_masked(tmp_path: Path) -> None:
    path = config(tmp_path, """\
        xds-address: 0.0.0.0:18000
        admin-allowed-host: [kumahc.test, kumahc]
        admin-token-file: /etc/kumahc/token
        log-format: json
        """)
    result = invoke("--config", path, "--log-level", "debug", "--print-config", env={
        "KUMAHC_STORE": "postgresql://kumahc:s3cret@127.0.0.1:5432/kumahc?sslpassword=hunter2",
        "KUMAHC_ENDPOINTS": "eds"})
    assert (result.exit_code, result.stderr) == (0, "")
    assert "s3cret" not in result.stdout and "hunter2" not in result.stdout
    assert result.stdout == f"""\
# kumahc serve settings: flag > $KUMAHC_<OPTION> > config file > default
# config file: {path}
store: postgresql://kumahc:***@127.0.0.1:5432/kumahc?sslpassword=***  # $KUMAHC_STORE
xds-address: 0.0.0.0:18000                                            # {path}
admin-address: 127.0.0.1:18001                                        # default
protocol: null                                                        # default
strict: false                                                         # default
xds-tls-cert: null                                                    # default
xds-tls-key: null                                                     # default
xds-client-ca: null                                                   # default
admin-allowed-host: [kumahc.test, kumahc]                             # {path}
admin-token-file: /etc/kumahc/token                                   # {path}
ui: null                                                              # default
log-format: json                                                      # {path}
log-level: debug                                                      # flag
render: connected                                                     # default
render-grace: 60.0                                                    # default
endpoints: eds                                                        # $KUMAHC_ENDPOINTS
max-file-size: null                                                   # default
max-documents: 200000                                                 # default
""".replace("{path}", path)


def test_print_config_names_kumahc_config_and_serves_nothing(tmp_path: Path) -> None:
    path = config(tmp_path, "xds-address: 127.0.0.1:1\n")
    result = invoke(env={"KUMAHC_CONFIG": path})
    assert failure(result) == "Missing argument 'PATH...' (or --store URL).\n"  # no --print-config: it would serve
    out = invoke("--print-config", env={"KUMAHC_CONFIG": path}).stdout.splitlines()
    assert out[1] == f"# config file: {path} ($KUMAHC_CONFIG)"
    assert out[3] == f"xds-address: 127.0.0.1:1        # {path}"


def test_an_added_option_is_a_setting_and_a_token_is_masked(tmp_path: Path) -> None:
    """What another option of serve gets without more code: its variable, its key, its source, and a token-named
    value masked (a FILE holding a token is shown: a path is no secret)."""

    @click.command(cls=SettingsCommand)
    @click.option("--api-token", metavar="TOKEN")
    @click.option("--api-token-file", metavar="FILE")
    @click.option("--render", type=click.Choice(["all", "connected"]), default="all")
    @click.option("--collector", metavar="ADDRESS")
    def cmd(api_token: str | None, api_token_file: str | None, render: str, collector: str | None) -> None:
        click.echo(f"{api_token} {api_token_file} {render} {collector}")

    path = config(tmp_path, "render: connected\napi-token-file: /run/token\n"
                            "collector: https://otel:p4ss@127.0.0.1:4318/v1\n")
    runner = CliRunner()
    result = runner.invoke(cmd, ["--config", path, "--print-config"], env={"KUMAHC_API_TOKEN": "t0ps3cret"},
                           prog_name="cmd")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines()[2:] == [
        "api-token: '***'                               # $KUMAHC_API_TOKEN",
        f"api-token-file: /run/token                     # {path}",
        f"render: connected                              # {path}",
        f"collector: https://otel:***@127.0.0.1:4318/v1  # {path}"]
    ran = runner.invoke(cmd, ["--config", path], env={"KUMAHC_API_TOKEN": "t0ps3cret"})
    assert (ran.exit_code, ran.stdout) == (0, "t0ps3cret /run/token connected https://otel:p4ss@127.0.0.1:4318/v1\n")


# --- a real server ---------------------------------------------------------------------------------------------------

def test_a_real_server_takes_each_setting_from_where_it_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The file names an xDS address the flag overrides (192.0.2.1, a documentation address no host has: serve
    could not start on it), a Host name the admin port then accepts, and a text log format the environment
    overrides with JSON: the server listens, checks Host and logs as the winners say."""
    inputs = write_mesh(tmp_path, web_and_backend(web_labels="{app: web}"), backend_http_check("10s",
                                                                                                        WEB_ONLY))
    path = config(tmp_path, """\
        xds-address: 192.0.2.1:0
        admin-allowed-host: [kumahc.test]
        log-format: text
        """)
    monkeypatch.setenv("KUMAHC_CONFIG", path)
    monkeypatch.setenv("KUMAHC_LOG_FORMAT", "json")
    with serve(str(inputs)) as s:
        assert s.xds.startswith("127.0.0.1:")
        assert s.get("/ready", {"Host": "kumahc.test"})[0] == 200
        assert s.get("/ready", {"Host": "other.test"})[0] == 403
        lines = s.wait_log('"msg":"loaded: ').splitlines()
        assert all(json.loads(line)["level"] in ("INFO", "WARNING") for line in lines)
