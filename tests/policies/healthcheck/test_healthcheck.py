"""Legacy HealthCheck (spec 03): every validation rule of §2 with its exact stderr line (both formats), the most
specific selection of §3 (ranks, creationTime and input-order tie-breaks), the mapping of §4, preview mode (01 §7)
and the precedence warnings of §5 that involve a HealthCheck.

Runs the pipeline in-process (``kumahc.pipeline.run`` + ``kumahc.render``), and the CLI in a subprocess for the
exit codes. Every assertion compares exact lines or exact JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from helpers import REPO

from kumahc.diagnostics import InputError
from kumahc.pipeline import Options, Result, run
from kumahc.render import document, to_json

EXAMPLES = REPO / "examples" / "healthcheck"
F = "hc.yaml"


# --- helpers -------------------------------------------------------------------------------------------------------


class Inputs:
    """A temporary working directory holding input files, so file names in messages are short."""

    def __init__(self, root: Path):
        self.root = root

    def write(self, name: str, text: str) -> str:
        (self.root / name).write_text(textwrap.dedent(text), encoding="utf-8")
        return name

    def result(self, *paths: str, protocol: str | None = None) -> Result:
        return run(list(paths) or [F], Options(protocol=protocol))

    def render(self, *paths: str, protocol: str | None = None) -> dict[str, Any]:
        return json.loads(to_json(document(self.result(*paths, protocol=protocol))))

    def errors(self, *paths: str) -> list[str]:
        """Every stderr line of a run that must fail (without the summary line)."""
        with pytest.raises(InputError) as info:
            self.result(*paths)
        return info.value.report.lines()

    def warnings(self, *paths: str, protocol: str | None = None) -> list[str]:
        return self.result(*paths, protocol=protocol).report.lines()


@pytest.fixture
def inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Inputs:
    monkeypatch.chdir(tmp_path)
    return Inputs(tmp_path)


def clusters(doc: dict[str, Any], proxy: str) -> dict[str, dict[str, Any]]:
    """Clusters of the proxy named ``proxy`` (any mesh), by cluster name."""
    (found,) = [p for p in doc["proxies"] if p["name"] == proxy]
    return {c["name"]: c for c in found["clusters"]}


def kumahc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from kumahc.cli import main; main()", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


# --- 03 §2 validation, Universal format ------------------------------------------------------------------------------

# A Universal HealthCheck with fixed lines: sources[0] on line 4 (its match on 4, key on 5), destinations[0] on line
# 7 (key on 8), conf on line 9 and its fields from line 10.
SOURCES = "sources:\n- match:\n    kuma.io/service: web\n"
DESTINATIONS = "destinations:\n- match:\n    kuma.io/service: backend\n"
GOOD_CONF = ["interval: 10s", "timeout: 2s", "unhealthyThreshold: 3", "healthyThreshold: 1"]


def universal(sources: str = SOURCES, destinations: str = DESTINATIONS, conf: list[str] | None = GOOD_CONF) -> str:
    text = "type: HealthCheck\nname: hc\n" + sources + destinations
    if conf is not None:
        text += "conf:\n" + "".join(f"  {line}\n" for line in conf)
    return text


def at(line: int) -> str:
    return f"{F}:{line}: HealthCheck hc: "


POSITIVE = "must have a positive value"
TAG_NAME = "tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores"
TAG_VALUE = 'tag value must consist of alphanumeric characters, dots, dashes, slashes and underscores or be "*"'
MISSING = 'mandatory tag "kuma.io/service" is missing'
EXACTLY_ONE = 'must consist of exactly one tag "kuma.io/service"'

SELECTOR_CASES = [
    ("sources-absent", universal(sources=""), [at(1) + "sources: must have at least one element"]),
    ("sources-empty", universal(sources="sources: []\n"), [at(3) + "sources: must have at least one element"]),
    ("source-match-absent", universal(sources="sources:\n- {}\n"),
     [at(4) + "sources[0].match: must have at least one tag", at(4) + f"sources[0].match: {MISSING}"]),
    ("source-match-empty", universal(sources="sources:\n- match: {}\n"),
     [at(4) + "sources[0].match: must have at least one tag", at(4) + f"sources[0].match: {MISSING}"]),
    ("source-key-empty", universal(sources='sources:\n- match:\n    kuma.io/service: web\n    "": v1\n'),
     [at(4) + "sources[0].match: tag name must be non-empty"]),
    ("source-key-chars", universal(sources='sources:\n- match:\n    kuma.io/service: web\n    "ver sion": v1\n'),
     [at(6) + f'sources[0].match["ver sion"]: {TAG_NAME}']),
    ("source-value-empty", universal(sources='sources:\n- match:\n    kuma.io/service: ""\n'),
     [at(5) + 'sources[0].match["kuma.io/service"]: tag value must be non-empty']),
    ("source-value-chars", universal(sources="sources:\n- match:\n    kuma.io/service: web app\n"),
     [at(5) + f'sources[0].match["kuma.io/service"]: {TAG_VALUE}']),
    ("source-value-star-prefix", universal(sources="sources:\n- match:\n    kuma.io/service: 'web*'\n"),
     [at(5) + f'sources[0].match["kuma.io/service"]: {TAG_VALUE}']),
    ("source-no-service", universal(sources="sources:\n- match:\n    version: v1\n"),
     [at(4) + f"sources[0].match: {MISSING}"]),
    ("source-second-item", universal(sources="sources:\n- match: {kuma.io/service: web}\n- match: {app: x}\n"),
     [at(5) + f"sources[1].match: {MISSING}"]),
    ("source-per-key-sorted", universal(sources='sources:\n- match: {zz: "", "a b": "x y", kuma.io/service: w}\n'),
     [at(4) + f'sources[0].match["a b"]: {TAG_NAME}', at(4) + f'sources[0].match["a b"]: {TAG_VALUE}',
      at(4) + 'sources[0].match["zz"]: tag value must be non-empty']),
    ("destinations-absent", universal(destinations=""), [at(1) + "destinations: must have at least one element"]),
    ("destinations-empty", universal(destinations="destinations: []\n"),
     [at(6) + "destinations: must have at least one element"]),
    ("destination-two-tags", universal(destinations="destinations:\n- match:\n    kuma.io/service: backend\n"
                                                    "    version: v1\n"),
     [at(7) + f"destinations[0].match: {EXACTLY_ONE}", at(9) + 'destinations[0].match["version"]: tag "version" '
                                                               "is not allowed"]),
    ("destination-no-service", universal(destinations="destinations:\n- match: {app: backend}\n"),
     [at(7) + f"destinations[0].match: {EXACTLY_ONE}", at(7) + 'destinations[0].match["app"]: tag "app" is not '
                                                               "allowed", at(7) + f"destinations[0].match: {MISSING}"]),
    ("destination-match-empty", universal(destinations="destinations:\n- match: {}\n"),
     [at(7) + f"destinations[0].match: {EXACTLY_ONE}", at(7) + f"destinations[0].match: {MISSING}"]),
    ("destination-value-empty", universal(destinations='destinations:\n- match: {kuma.io/service: ""}\n'),
     [at(7) + 'destinations[0].match["kuma.io/service"]: tag value must be non-empty']),
    ("destination-value-chars", universal(destinations="destinations:\n- match: {kuma.io/service: a+b}\n"),
     [at(7) + f'destinations[0].match["kuma.io/service"]: {TAG_VALUE}']),
    ("destination-key-rules-then-not-allowed",
     universal(destinations='destinations:\n- match: {"b c": "", kuma.io/service: x}\n'),
     [at(7) + f"destinations[0].match: {EXACTLY_ONE}", at(7) + f'destinations[0].match["b c"]: {TAG_NAME}',
      at(7) + 'destinations[0].match["b c"]: tag value must be non-empty',
      at(7) + 'destinations[0].match["b c"]: tag "b c" is not allowed']),
    ("destination-empty-key", universal(destinations='destinations:\n- match: {"": x}\n'),
     [at(7) + f"destinations[0].match: {EXACTLY_ONE}", at(7) + "destinations[0].match: tag name must be non-empty",
      at(7) + 'destinations[0].match[""]: tag "" is not allowed', at(7) + f"destinations[0].match: {MISSING}"]),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in SELECTOR_CASES], ids=[c[0] for c in SELECTOR_CASES])
def test_selector_rules(inputs: Inputs, text: str, expected: list[str]) -> None:
    inputs.write(F, text)
    assert inputs.errors() == expected


def conf(*lines: str) -> str:
    """A Universal HealthCheck whose conf holds exactly ``lines``, the first on line 10 (``conf:`` on line 9)."""
    return universal(conf=list(lines))


CONF_CASES = [
    ("conf-absent", universal(conf=None), [at(1) + "conf: has to be defined"]),
    ("conf-empty", "type: HealthCheck\nname: hc\n" + SOURCES + DESTINATIONS + "conf: {}\n",
     [at(9) + f"conf.{f}: {POSITIVE}" for f in ("interval", "timeout", "unhealthyThreshold", "healthyThreshold")]),
    ("interval-zero", conf("interval: 0s", *GOOD_CONF[1:]), [at(10) + f"conf.interval: {POSITIVE}"]),
    ("interval-bare-zero", conf("interval: '0'", *GOOD_CONF[1:]), [at(10) + f"conf.interval: {POSITIVE}"]),
    ("interval-negative", conf("interval: -5s", *GOOD_CONF[1:]), [at(10) + f"conf.interval: {POSITIVE}"]),
    ("timeout-negative", conf(GOOD_CONF[0], "timeout: -1ms", *GOOD_CONF[2:]), [at(11) + f"conf.timeout: {POSITIVE}"]),
    ("timeout-absent", conf(GOOD_CONF[0], *GOOD_CONF[2:]), [at(9) + f"conf.timeout: {POSITIVE}"]),
    ("unhealthy-zero", conf(*GOOD_CONF[:2], "unhealthyThreshold: 0", GOOD_CONF[3]),
     [at(12) + f"conf.unhealthyThreshold: {POSITIVE}"]),
    ("healthy-negative", conf(*GOOD_CONF[:3], "healthyThreshold: -1"), [at(13) + f"conf.healthyThreshold: {POSITIVE}"]),
    ("healthy-absent", conf(*GOOD_CONF[:3]), [at(9) + f"conf.healthyThreshold: {POSITIVE}"]),
    ("jitters-and-no-traffic", conf(*GOOD_CONF, "initialJitter: 0s", "intervalJitter: -1s", "noTrafficInterval: '0'"),
     [at(14) + f"conf.initialJitter: {POSITIVE}", at(15) + f"conf.intervalJitter: {POSITIVE}",
      at(16) + f"conf.noTrafficInterval: {POSITIVE}"]),
    ("jitter-percent-negative", conf(*GOOD_CONF, "intervalJitterPercent: -1"),
     [at(14) + "conf.intervalJitterPercent: must not be negative"]),
    ("panic-above-100", conf(*GOOD_CONF, "healthyPanicThreshold: 100.5"),
     [at(14) + "conf.healthyPanicThreshold: must be in range [0.0 - 100.0]"]),
    ("panic-negative", conf(*GOOD_CONF, "healthyPanicThreshold: -1"),
     [at(14) + "conf.healthyPanicThreshold: must be in range [0.0 - 100.0]"]),
    ("http-path-absent", conf(*GOOD_CONF, "http: {}"),
     [at(14) + "conf.http.path: has to be defined and cannot be empty"]),
    ("http-path-empty", conf(*GOOD_CONF, "http:", "  path: ''"),
     [at(15) + "conf.http.path: has to be defined and cannot be empty"]),
    ("statuses-out-of-range", conf(*GOOD_CONF, "http:", "  path: /", "  expectedStatuses:", "  - 99", "  - 100",
                                   "  - 599", "  - 600"),
     [at(17) + "conf.http.expectedStatuses[0]: must be in range [100, 600)",
      at(20) + "conf.http.expectedStatuses[3]: must be in range [100, 600)"]),
    ("header-absent", conf(*GOOD_CONF, "http:", "  path: /", "  requestHeadersToAdd:", "  - append: true"),
     [at(17) + "conf.http.requestHeadersToAdd[0].header: has to be defined"]),
    ("header-key-absent", conf(*GOOD_CONF, "http:", "  path: /", "  requestHeadersToAdd:", "  - header:",
                               "      value: x"),
     [at(17) + "conf.http.requestHeadersToAdd[0].header.key: cannot be empty"]),
    ("header-key-empty", conf(*GOOD_CONF, "http:", "  path: /", "  requestHeadersToAdd:",
                              "  - header: {key: x}", "  - header: {key: ''}"),
     [at(18) + "conf.http.requestHeadersToAdd[1].header.key: cannot be empty"]),
    ("http-and-tcp", conf(*GOOD_CONF, "tcp: {}", "http: {path: /}"),
     [at(9) + "conf: http and tcp cannot be defined at the same time"]),
    # (kumahc) rules, worded as 02 §3.2
    ("path-control-character", conf(*GOOD_CONF, "http: {path: \"/a\\tb\"}"),
     [at(14) + "conf.http.path: must not contain control characters"]),
    ("path-del", conf(*GOOD_CONF, "http: {path: \"/\\x7f\"}"),
     [at(14) + "conf.http.path: must not contain control characters"]),
    ("header-host", conf(*GOOD_CONF, "http:", "  path: /", "  requestHeadersToAdd:", "  - header: {key: HoSt}"),
     [at(17) + 'conf.http.requestHeadersToAdd[0].header.key: must not be "host"']),
    ("header-pseudo", conf(*GOOD_CONF, "http:", "  path: /", "  requestHeadersToAdd:",
                           "  - header: {key: ':authority', value: x}"),
     [at(17) + 'conf.http.requestHeadersToAdd[0].header.key: must not start with ":"']),
    ("header-value-crlf", conf(*GOOD_CONF, "http:", "  path: /", "  requestHeadersToAdd:",
                               "  - header:", "      key: x-a", '      value: "a\\r\\nb"'),
     [at(19) + "conf.http.requestHeadersToAdd[0].header.value: must not contain NUL, CR or LF"]),
    ("header-key-nul", conf(*GOOD_CONF, "http:", "  path: /", "  requestHeadersToAdd:",
                            '  - header: {key: "x\\0y"}'),
     [at(17) + "conf.http.requestHeadersToAdd[0].header.key: must not contain NUL, CR or LF"]),
    ("tcp-send-empty", conf(*GOOD_CONF, "tcp:", "  send: ''"), [at(15) + "conf.tcp.send: must not be empty"]),
    ("tcp-send-not-base64", conf(*GOOD_CONF, "tcp:", "  send: 'not base64!'"),
     [at(15) + "conf.tcp.send: must be valid base64"]),
    ("tcp-receive", conf(*GOOD_CONF, "tcp:", "  receive: [Zm9v, '==', 'a']"),
     [at(15) + "conf.tcp.receive[1]: must not be empty", at(15) + "conf.tcp.receive[2]: must be valid base64"]),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CONF_CASES], ids=[c[0] for c in CONF_CASES])
def test_conf_rules(inputs: Inputs, text: str, expected: list[str]) -> None:
    inputs.write(F, text)
    assert inputs.errors() == expected


ACCEPTED = [
    ("bounds", ["healthyPanicThreshold: 0", "intervalJitterPercent: 0", "http:", "  path: /",
                "  expectedStatuses: [100, 599]"]),
    ("panic-100-float", ["healthyPanicThreshold: 100.0"]),
    ("jitter-percent-above-100", ["intervalJitterPercent: 150"]),  # only negative values are rejected (03 §1)
    ("header-value-absent", ["http:", "  path: /", "  requestHeadersToAdd:", "  - header: {key: x-a}"]),
    ("tcp-url-safe-unpadded", ["tcp: {send: 'Zm9vYg', receive: ['-_8']}"]),
    ("selector-wildcards", []),
]


@pytest.mark.parametrize(("extra",), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_accepted(inputs: Inputs, extra: list[str]) -> None:
    inputs.write(F, universal(sources="sources:\n- match: {kuma.io/service: '*', version: '*'}\n",
                              destinations="destinations:\n- match: {kuma.io/service: '*'}\n",
                              conf=[*GOOD_CONF, *extra]))
    assert inputs.warnings() == ["info: preview mode: no Dataplane in the inputs; synthesised proxies: "
                                 "default/any-proxy"]


def test_all_problems_in_rule_table_order_on_one_line(inputs: Inputs) -> None:
    # Flow style puts every conf problem on line 9 (absent fields report the line of conf): the order is the
    # rule table's, kumahc rules last.
    inputs.write(F, "type: HealthCheck\nname: hc\n" + SOURCES + DESTINATIONS
                 + "conf: {intervalJitter: 0s, healthyPanicThreshold: 101, tcp: {send: ''}, "
                   "http: {expectedStatuses: [700], requestHeadersToAdd: [{append: false}, {header: {key: host}}]}}\n")
    assert inputs.errors() == [
        at(9) + f"conf.interval: {POSITIVE}",
        at(9) + f"conf.timeout: {POSITIVE}",
        at(9) + f"conf.unhealthyThreshold: {POSITIVE}",
        at(9) + f"conf.healthyThreshold: {POSITIVE}",
        at(9) + f"conf.intervalJitter: {POSITIVE}",
        at(9) + "conf.healthyPanicThreshold: must be in range [0.0 - 100.0]",
        at(9) + "conf.http.path: has to be defined and cannot be empty",
        at(9) + "conf.http.expectedStatuses[0]: must be in range [100, 600)",
        at(9) + "conf.http.requestHeadersToAdd[0].header: has to be defined",
        at(9) + "conf: http and tcp cannot be defined at the same time",
        at(9) + 'conf.http.requestHeadersToAdd[1].header.key: must not be "host"',
        at(9) + "conf.tcp.send: must not be empty",
    ]


def test_every_section_reported_together(inputs: Inputs) -> None:
    inputs.write(F, universal(sources="sources: []\n", destinations="destinations:\n- match: {kuma.io/service: a, "
                                                                    "x: y}\n", conf=["interval: 0s"]))
    assert inputs.errors() == [
        at(3) + "sources: must have at least one element",
        at(5) + f"destinations[0].match: {EXACTLY_ONE}",
        at(5) + 'destinations[0].match["x"]: tag "x" is not allowed',
        at(6) + f"conf.timeout: {POSITIVE}",  # absent: the line of conf
        at(6) + f"conf.unhealthyThreshold: {POSITIVE}",
        at(6) + f"conf.healthyThreshold: {POSITIVE}",
        at(7) + f"conf.interval: {POSITIVE}",
    ]


def test_null_means_absent(inputs: Inputs) -> None:
    # 01 §4: a YAML null is an absent field, so `conf:` with nothing under it is "has to be defined" (reported on
    # the line of the key, the deepest node of the path present in the file), and a null field is not a type error.
    inputs.write(F, "type: HealthCheck\nname: hc\n" + SOURCES + DESTINATIONS + "conf:\n")
    assert inputs.errors() == [at(9) + "conf: has to be defined"]
    inputs.write(F, conf(*GOOD_CONF, "initialJitter: null", "tcp: ~"))
    assert clusters(inputs.render(), "web")["backend"]["health_checks"] == [{**COMMON, "tcp_health_check": {}}]


# --- structural checks from schemas/healthcheck.schema.json (01 §4) -------------------------------------------------

def test_structural_types(inputs: Inputs) -> None:
    # One problem per line: the order of structural problems on one line is jsonschema's, not asserted here.
    inputs.write(F, conf("interval: 10", "timeout: 2s", "unhealthyThreshold: 3.0", "healthyThreshold: true",
                         "healthyPanicThreshold: '60'", "intervalJitterPercent: 1.5", "retries: 3",
                         "http:", "  path: /", "  expectedStatuses: ['200']", "  requestHeadersToAdd:",
                         "  - append: 'no'", "    header:", "      key: a", "      value: 1", "      x: y"))
    assert inputs.errors() == [
        at(10) + 'conf.interval: must be a duration (e.g. "10s", "1m30s")',
        at(12) + "conf.unhealthyThreshold: must be an integer",
        at(13) + "conf.healthyThreshold: must be an integer",
        at(14) + "conf.healthyPanicThreshold: must be a number",
        at(15) + "conf.intervalJitterPercent: must be an integer",
        at(16) + "conf.retries: unknown field",
        at(19) + "conf.http.expectedStatuses[0]: must be an integer",
        at(21) + "conf.http.requestHeadersToAdd[0].append: must be a boolean",
        at(24) + "conf.http.requestHeadersToAdd[0].header.value: must be a string",
        at(25) + "conf.http.requestHeadersToAdd[0].header.x: unknown field",
    ]


def test_structural_selectors_and_top_level(inputs: Inputs) -> None:
    inputs.write(F, "type: HealthCheck\nname: hc\nspec: {}\nsources:\n- match: {kuma.io/service: web, version: 1}\n"
                    "  from: x\n" + DESTINATIONS + "conf: {tcp: {send: 1, receive: Zm9v, extra: 1}}\n")
    lines = inputs.errors()
    assert lines == [
        at(3) + "spec: unknown field",
        at(5) + 'sources[0].match["version"]: must be a string',
        at(6) + "sources[0].from: unknown field",
        at(10) + "conf.tcp.send: must be a string",
        at(10) + "conf.tcp.receive: must be a list",
        at(10) + "conf.tcp.extra: unknown field",
    ]


def test_structural_duration_limit_and_creation_time(inputs: Inputs) -> None:
    inputs.write(F, "type: HealthCheck\nname: hc\ncreationTime: yesterday\n" + SOURCES + DESTINATIONS
                 + "conf: {interval: 9223372036s, timeout: 1s, unhealthyThreshold: 2147483648, healthyThreshold: 1}\n")
    assert inputs.errors() == [
        at(3) + "creationTime: must be an RFC 3339 timestamp",
        at(10) + "conf.interval: must be less than 9223372036s",
        at(10) + "conf.unhealthyThreshold: must be a 32-bit integer",
    ]


# --- 03 §2 in Kubernetes format: spec.-prefixed paths, cluster-scoped display name ---------------------------------

K8S_HEAD = """\
apiVersion: kuma.io/v1alpha1
kind: HealthCheck
metadata:
  name: hc
  namespace: ignored
spec:
"""


def k8s(body: str) -> str:
    """``body`` = the spec's lines (indented two spaces), the first on line 7."""
    return K8S_HEAD + textwrap.indent(textwrap.dedent(body), "  ")


def test_kubernetes_paths_are_spec_prefixed(inputs: Inputs) -> None:
    inputs.write(F, k8s("""\
        sources:
        - match: {version: v1}
        destinations:
        - match: {kuma.io/service: backend, app: x}
        conf:
          interval: -1s
          timeout: 1s
          unhealthyThreshold: 1
          healthyThreshold: 0
          healthyPanicThreshold: 200
          tcp: {send: '!'}
          http:
            path: ''
            requestHeadersToAdd:
            - header: {key: ''}
        """))
    assert inputs.errors() == [
        at(8) + f"spec.sources[0].match: {MISSING}",
        at(10) + f"spec.destinations[0].match: {EXACTLY_ONE}",
        at(10) + 'spec.destinations[0].match["app"]: tag "app" is not allowed',
        at(11) + "spec.conf: http and tcp cannot be defined at the same time",
        at(12) + f"spec.conf.interval: {POSITIVE}",
        at(15) + f"spec.conf.healthyThreshold: {POSITIVE}",
        at(16) + "spec.conf.healthyPanicThreshold: must be in range [0.0 - 100.0]",
        at(17) + "spec.conf.tcp.send: must be valid base64",
        at(19) + "spec.conf.http.path: has to be defined and cannot be empty",
        at(21) + "spec.conf.http.requestHeadersToAdd[0].header.key: cannot be empty",
    ]


def test_kubernetes_absent_sections(inputs: Inputs) -> None:
    inputs.write(F, K8S_HEAD + "  sources: []\n")
    assert inputs.errors() == [
        at(6) + "spec.destinations: must have at least one element",
        at(6) + "spec.conf: has to be defined",
        at(7) + "spec.sources: must have at least one element",
    ]


def test_kubernetes_structural(inputs: Inputs) -> None:
    inputs.write(F, K8S_HEAD + "  conf: {interval: 1s, bogus: 1}\n  targetRef: {}\n")
    assert inputs.errors() == [at(7) + "spec.conf.bogus: unknown field", at(8) + "spec.targetRef: unknown field"]


def test_kubernetes_spec_required(inputs: Inputs) -> None:
    inputs.write(F, "apiVersion: kuma.io/v1alpha1\nkind: HealthCheck\nmetadata: {name: hc}\nsources: []\n")
    assert inputs.errors() == [at(1) + "spec: must be defined", at(4) + "sources: unknown field"]


def test_seed002_as_written_is_rejected(inputs: Inputs) -> None:
    # The seed lists both blocks under "only one of tcp or http can be defined".
    tcp = (EXAMPLES / "seed002-all-options-tcp-kubernetes.yaml").read_text(encoding="utf-8")
    http = (EXAMPLES / "seed002-all-options-http-kubernetes.yaml").read_text(encoding="utf-8")
    both = tcp + http[http.index("    http:"):]
    inputs.write(F, both)
    conf_line = both.splitlines().index("  conf:") + 1
    assert inputs.errors() == [f"{F}:{conf_line}: HealthCheck web-to-backend-check: spec.conf: http and tcp cannot "
                               "be defined at the same time"]


def test_cli_validate_exit_code_and_summary(tmp_path: Path) -> None:
    (tmp_path / F).write_text(conf("interval: -10s", *GOOD_CONF[1:]), encoding="utf-8")
    proc = kumahc("validate", F, cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.splitlines() == [at(10) + f"conf.interval: {POSITIVE}", "found 1 error"]
    (tmp_path / F).write_text(universal(), encoding="utf-8")
    proc = kumahc("validate", F, cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "ok: 1 resources in 1 files\n")


# --- 03 §3 selection -----------------------------------------------------------------------------------------------

WEB = """\
type: Dataplane
name: web
networking:
  address: 10.0.0.1
  inbound:
  - port: 20000
    tags: {kuma.io/service: web, version: v1}
  - port: 20010
    tags: {kuma.io/service: web-admin, zone: east}
  outbound:
  - tags: {kuma.io/service: backend}
  - tags: {kuma.io/service: db}
---
type: Dataplane
name: backend
networking:
  address: 10.0.0.2
  inbound:
  - port: 20001
    tags: {kuma.io/service: backend}
  outbound: []
"""


def policy(name: str, sources: str, destinations: str = "[{match: {kuma.io/service: backend}}]",
           interval: str = "1s", extra: str = "", mesh: str = "default") -> str:
    """A flow-style Universal HealthCheck; ``interval`` tells which policy won."""
    return (f"---\ntype: HealthCheck\nname: {name}\nmesh: {mesh}\n{extra}sources: {sources}\n"
            f"destinations: {destinations}\n"
            f"conf: {{interval: {interval}, timeout: 1s, unhealthyThreshold: 1, healthyThreshold: 1}}\n")


def winners(inputs: Inputs, *policies: str) -> dict[str, str | None]:
    """Render the mesh of :data:`WEB` with ``policies``: proxy web's cluster → winning interval (None = no check)."""
    inputs.write(F, WEB + "".join(policies))
    out = {}
    for name, c in clusters(inputs.render(), "web").items():
        checks = c.get("health_checks")
        out[name] = checks[0]["interval"] if checks else None
    return out


ANY = "[{match: {kuma.io/service: '*'}}]"
SVC_WEB = "[{match: {kuma.io/service: web}}]"


def test_spec_ranking_example(inputs: Inputs) -> None:
    # 03 §3: a (2,1), b (2,1) beats a on the tie (later), c (3,2) wins.
    a = policy("a", ANY, interval="1s")
    b = policy("b", SVC_WEB, ANY, interval="2s")
    c = policy("c", "[{match: {kuma.io/service: web, version: v1}}]", ANY, interval="3s")
    assert winners(inputs, a, b, c) == {"backend": "3s", "db": "3s"}
    assert winners(inputs, a, b) == {"backend": "2s", "db": "2s"}
    assert winners(inputs, b, a) == {"backend": "1s", "db": "2s"}  # a only selects backend


def test_creation_time_example(inputs: Inputs) -> None:
    a = policy("a", ANY, interval="1s", extra='creationTime: "2024-02-01T00:00:00Z"\n')
    b = policy("b", SVC_WEB, ANY, interval="2s")
    assert winners(inputs, a, b) == {"backend": "1s", "db": "2s"}


def test_exact_source_beats_wildcard_whatever_the_order(inputs: Inputs) -> None:
    exact = policy("exact", SVC_WEB, interval="2s")
    wildcard = policy("wildcard", ANY, interval="1s")
    assert winners(inputs, exact, wildcard) == {"backend": "2s", "db": None}
    assert winners(inputs, wildcard, exact) == {"backend": "2s", "db": None}


def test_exact_destination_beats_wildcard_whatever_the_order(inputs: Inputs) -> None:
    exact = policy("exact", SVC_WEB, interval="2s")
    wildcard = policy("wildcard", SVC_WEB, ANY, interval="1s")
    assert winners(inputs, exact, wildcard) == {"backend": "2s", "db": "1s"}
    assert winners(inputs, wildcard, exact) == {"backend": "2s", "db": "1s"}


def test_more_keys_beat_more_exact_keys(inputs: Inputs) -> None:
    # (2,1) with a wildcard beats (1,1): total keys first.
    two = policy("two", "[{match: {kuma.io/service: '*', version: v1}}]", interval="2s")
    one = policy("one", SVC_WEB, interval="1s")
    assert winners(inputs, two, one) == {"backend": "2s", "db": None}
    assert winners(inputs, one, two) == {"backend": "2s", "db": None}


def test_same_total_more_exact_keys_win(inputs: Inputs) -> None:
    exact = policy("exact", "[{match: {kuma.io/service: web, version: v1}}]", interval="2s")
    star = policy("star", "[{match: {kuma.io/service: web, version: '*'}}]", interval="1s")
    assert winners(inputs, exact, star) == {"backend": "2s", "db": None}
    assert winners(inputs, star, exact) == {"backend": "2s", "db": None}


def test_best_matching_source_selector_counts(inputs: Inputs) -> None:
    # multi: its best matching selector is (2,2); a non-matching (3,3) selector does not count.
    multi = policy("multi", "[{match: {kuma.io/service: '*'}}, {match: {kuma.io/service: web, version: v1}}, "
                            "{match: {kuma.io/service: web, version: v2, zone: x}}]", interval="2s")
    single = policy("single", "[{match: {kuma.io/service: web, version: '*'}}]", interval="1s")
    assert winners(inputs, multi, single) == {"backend": "2s", "db": None}
    assert winners(inputs, single, multi) == {"backend": "2s", "db": None}


def test_selector_keys_must_match_one_inbound(inputs: Inputs) -> None:
    # version is on the first inbound, zone on the second: no single inbound has both.
    split = policy("split", "[{match: {kuma.io/service: '*', version: v1, zone: east}}]", interval="2s")
    admin = policy("admin", "[{match: {kuma.io/service: web-admin, zone: east}}]", interval="3s")
    assert winners(inputs, split) == {"backend": None, "db": None}
    assert winners(inputs, admin) == {"backend": "3s", "db": None}


def test_creation_time_tie_breaks(inputs: Inputs) -> None:
    old = policy("old", SVC_WEB, interval="1s", extra='creationTime: "2024-01-01T00:00:00Z"\n')
    new = policy("new", SVC_WEB, interval="2s", extra='creationTime: "2024-01-01T01:00:00+00:30"\n')
    none = policy("none", SVC_WEB, interval="3s")
    assert winners(inputs, new, old) == {"backend": "2s", "db": None}  # later timestamp, earlier in input
    assert winners(inputs, old, new, none) == {"backend": "2s", "db": None}  # absent = older than any
    same = policy("same", SVC_WEB, interval="3s", extra='creationTime: "2024-01-01T00:30:00Z"\n')
    assert winners(inputs, same, new) == {"backend": "2s", "db": None}  # equal instants → later in input
    assert winners(inputs, new, same) == {"backend": "3s", "db": None}


def test_input_order_tie_break(inputs: Inputs) -> None:
    # kumahc: the later in input order wins (Kuma would keep the alphabetically first name).
    zzz = policy("zzz", SVC_WEB, interval="1s")
    aaa = policy("aaa", SVC_WEB, interval="2s")
    assert winners(inputs, zzz, aaa) == {"backend": "2s", "db": None}
    assert winners(inputs, aaa, zzz) == {"backend": "1s", "db": None}


def test_input_order_across_files(inputs: Inputs) -> None:
    inputs.write("a.yaml", WEB + policy("one", SVC_WEB, interval="1s"))
    inputs.write("b.yaml", policy("two", SVC_WEB, interval="2s"))
    assert clusters(inputs.render("b.yaml", "a.yaml"), "web")["backend"]["health_checks"][0]["interval"] == "1s"
    assert clusters(inputs.render("a.yaml", "b.yaml"), "web")["backend"]["health_checks"][0]["interval"] == "2s"


def test_other_mesh_and_unmatched_sources_do_not_apply(inputs: Inputs) -> None:
    other = policy("other", SVC_WEB, interval="2s", mesh="other")
    nobody = policy("nobody", "[{match: {kuma.io/service: api}}]", interval="3s")
    assert winners(inputs, other, nobody) == {"backend": None, "db": None}


def test_no_merge_between_policies(inputs: Inputs) -> None:
    # The winner's conf is used alone: the loser's panic settings do not leak in (03: no merging).
    loser = policy("loser", ANY, interval="1s").replace("healthyThreshold: 1}", "healthyThreshold: 1, "
                                                                                "healthyPanicThreshold: 10}")
    win = policy("win", SVC_WEB, interval="2s")
    inputs.write(F, WEB + loser + win)
    backend = clusters(inputs.render(), "web")["backend"]
    assert "common_lb_config" not in backend
    assert backend["health_checks"][0]["interval"] == "2s"


# --- 03 §4 mapping (preview mode unless noted) ------------------------------------------------------------------------

CONF = "  interval: 10s\n  timeout: 2s\n  unhealthyThreshold: 3\n  healthyThreshold: 1\n"
SEED000 = ("type: HealthCheck\nname: web-to-backend-check\nmesh: default\n"
           "sources:\n- match:\n    kuma.io/service: web\n"
           "destinations:\n- match:\n    kuma.io/service: backend\nconf:\n" + CONF)
COMMON = {"timeout": "2s", "interval": "10s", "unhealthy_threshold": 3, "healthy_threshold": 1}


def backend(inputs: Inputs, text: str, protocol: str | None = None) -> dict[str, Any]:
    """Preview mode: the ``backend`` cluster of proxy ``web``, without the fixed skeleton fields."""
    inputs.write(F, text)
    doc = inputs.render(protocol=protocol)
    assert [p["name"] for p in doc["proxies"]] == ["web"]
    c = clusters(doc, "web")["backend"]
    return {k: v for k, v in c.items() if k not in ("@type", "name", "type", "connect_timeout")}


def test_row1_tcp_connect_only(inputs: Inputs) -> None:
    assert backend(inputs, SEED000) == {"health_checks": [{**COMMON, "tcp_health_check": {}}]}


def test_row2_http(inputs: Inputs) -> None:
    text = SEED000 + ("  http:\n    path: /health\n    expectedStatuses: [200, 201]\n    requestHeadersToAdd:\n"
                      "    - append: false\n      header: {key: Content-Type, value: application/json}\n"
                      "    - header: {key: Accept, value: application/json}\n")
    assert backend(inputs, text) == {"health_checks": [{**COMMON, "http_health_check": {
        "path": "/health",
        "request_headers_to_add": [
            {"header": {"key": "Content-Type", "value": "application/json"},
             "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
            {"header": {"key": "Accept", "value": "application/json"}}],
        "expected_statuses": [{"start": "200", "end": "201"}, {"start": "201", "end": "202"}]}}]}


def test_row3_tcp_payloads(inputs: Inputs) -> None:
    text = SEED000 + "  tcp: {send: Zm9v, receive: [YmFy, YmF6]}\n"
    assert backend(inputs, text) == {"health_checks": [{**COMMON, "tcp_health_check": {
        "send": {"text": "666f6f"}, "receive": [{"text": "626172"}, {"text": "62617a"}]}}]}


def test_row4_panic(inputs: Inputs) -> None:
    text = SEED000 + "  healthyPanicThreshold: 90\n  failTrafficOnPanic: true\n"
    assert backend(inputs, text) == {
        "health_checks": [{**COMMON, "tcp_health_check": {}}],
        "common_lb_config": {"healthy_panic_threshold": {"value": 90.0},
                             "zone_aware_lb_config": {"fail_traffic_on_panic": True}}}


def test_panic_edge_values(inputs: Inputs) -> None:
    text = SEED000 + "  healthyPanicThreshold: 62.5\n"
    assert backend(inputs, text)["common_lb_config"] == {"healthy_panic_threshold": {"value": 62.5}}
    text = SEED000 + "  healthyPanicThreshold: 0\n  failTrafficOnPanic: false\n"
    assert backend(inputs, text)["common_lb_config"] == {"healthy_panic_threshold": {}, "zone_aware_lb_config": {}}
    text = SEED000 + "  failTrafficOnPanic: true\n"
    assert backend(inputs, text)["common_lb_config"] == {"zone_aware_lb_config": {"fail_traffic_on_panic": True}}


def test_all_common_fields(inputs: Inputs) -> None:
    text = SEED000 + ("  initialJitter: 5s\n  intervalJitter: 1.5s\n  intervalJitterPercent: 10\n"
                      "  noTrafficInterval: 500ms\n  eventLogPath: /tmp/hc.log\n  alwaysLogHealthCheckFailures: true\n"
                      "  reuseConnection: false\n")
    assert backend(inputs, text) == {"health_checks": [{
        "timeout": "2s", "interval": "10s", "interval_jitter": "1.500s", "unhealthy_threshold": 3,
        "healthy_threshold": 1, "reuse_connection": False, "tcp_health_check": {}, "no_traffic_interval": "0.500s",
        "interval_jitter_percent": 10, "always_log_health_check_failures": True, "initial_jitter": "5s",
        "event_logger": [{"name": "envoy.health_check.event_sinks.file", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.health_check.event_sinks.file.v3.HealthCheckEventFileSink",
            "event_log_path": "/tmp/hc.log"}}]}]}


def test_false_and_empty_optional_fields(inputs: Inputs) -> None:
    # alwaysLog false is the proto default (omitted); reuse true is written (BoolValue); an empty eventLogPath is
    # Kuma's "unset" (Envoy rejects an empty file sink path).
    text = SEED000 + '  alwaysLogHealthCheckFailures: false\n  reuseConnection: true\n  eventLogPath: ""\n'
    assert backend(inputs, text) == {"health_checks": [{**COMMON, "reuse_connection": True,
                                                        "tcp_health_check": {}}]}


def test_headers_as_written(inputs: Inputs) -> None:
    # append true and absent → default action (omitted); value absent → ""; commas never split; no x-kuma-tags.
    text = SEED000 + ("  http:\n    path: /h\n    requestHeadersToAdd:\n"
                      "    - {append: true, header: {key: x-a, value: '1,2'}}\n"
                      "    - {header: {key: x-b}}\n"
                      "    - {append: false, header: {key: x-c, value: 'a, b'}}\n")
    assert backend(inputs, text)["health_checks"][0]["http_health_check"] == {
        "path": "/h",
        "request_headers_to_add": [
            {"header": {"key": "x-a", "value": "1,2"}},
            {"header": {"key": "x-b"}},
            {"header": {"key": "x-c", "value": "a, b"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}]}


@pytest.mark.parametrize("protocol", ["tcp", "http", "grpc", "kafka", "tls", "mysql"])
def test_http_check_on_any_protocol_http1(inputs: Inputs, protocol: str) -> None:
    text = SEED000 + "  http: {path: /h}\n"
    assert backend(inputs, text, protocol=protocol)["health_checks"] == [
        {**COMMON, "http_health_check": {"path": "/h"}}]


def test_http2_codec_only_for_http2(inputs: Inputs) -> None:
    text = SEED000 + "  http: {path: /h}\n"
    c = backend(inputs, text, protocol="http2")
    assert c["health_checks"] == [{**COMMON, "http_health_check": {"path": "/h", "codec_client_type": "HTTP2"}}]
    assert list(c["typed_extension_protocol_options"]) == ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]


def test_tcp_check_on_any_protocol(inputs: Inputs) -> None:
    assert backend(inputs, SEED000, protocol="http")["health_checks"] == [{**COMMON, "tcp_health_check": {}}]
    c = backend(inputs, SEED000, protocol="grpc")
    assert c["health_checks"] == [{**COMMON, "tcp_health_check": {}}]


def test_unknown_protocol_destination_with_endpoints(inputs: Inputs) -> None:
    # Dataplanes without kuma.io/protocol tags: protocol unknown, the HealthCheck still applies (03 §4).
    inputs.write(F, WEB + policy("hc", SVC_WEB, interval="4s"))
    result = inputs.result()
    assert result.view.destinations[("default", "backend")].protocol == "unknown"
    assert clusters(inputs.render(), "web")["backend"]["health_checks"] == [
        {"timeout": "1s", "interval": "4s", "unhealthy_threshold": 1, "healthy_threshold": 1, "tcp_health_check": {}}]
    assert result.report.lines() == []


def test_wildcard_destination_applies_to_every_destination(inputs: Inputs) -> None:
    assert winners(inputs, policy("all", SVC_WEB, ANY, interval="5s")) == {"backend": "5s", "db": "5s"}


# --- preview mode (01 §7) --------------------------------------------------------------------------------------------


def test_preview_seed_examples(inputs: Inputs) -> None:
    for name, proxy, cluster, protocol in [
        ("seed000-tcp-connect-universal.yaml", "web", "backend", "tcp"),
        ("seed000-tcp-connect-kubernetes.yaml", "web", "backend", "tcp"),
        ("seed001-http-universal.yaml", "web", "backend", "http"),
        ("seed001-http-kubernetes.yaml", "web", "backend", "http"),
        ("seed001-tcp-payload-universal.yaml", "web", "backend", "tcp"),
        ("seed001-tcp-payload-kubernetes.yaml", "web", "backend", "tcp"),
        ("seed002-all-options-tcp-kubernetes.yaml", "web_default_svc_80", "backend_default_svc_80", "tcp"),
        ("seed002-all-options-http-kubernetes.yaml", "web_default_svc_80", "backend_default_svc_80", "http"),
    ]:
        result = run([str(EXAMPLES / name)])
        assert [(p.mesh, p.name, p.destinations) for p in result.view.proxies] == [("default", proxy, (cluster,))]
        assert [(d.name, d.protocol) for d in result.view.destinations.values()] == [(cluster, protocol)], name
        assert result.report.lines() == [f"info: preview mode: no Dataplane in the inputs; synthesised proxies: "
                                         f"default/{proxy}"]


def test_examples_match_the_kubernetes_and_universal_pairs() -> None:
    for pair in ("seed000-tcp-connect", "seed001-http", "seed001-tcp-payload"):
        universal_doc = document(run([str(EXAMPLES / f"{pair}-universal.yaml")]))
        kubernetes_doc = document(run([str(EXAMPLES / f"{pair}-kubernetes.yaml")]))
        assert universal_doc == kubernetes_doc, pair


def test_preview_proxy_classes(inputs: Inputs) -> None:
    inputs.write(F, universal(
        sources="sources:\n- match: {kuma.io/service: '*'}\n- match: {kuma.io/service: '*', version: v1}\n"
                "- match: {kuma.io/service: web}\n- match: {app: '*', kuma.io/service: '*'}\n",
        destinations="destinations:\n- match: {kuma.io/service: '*'}\n- match: {kuma.io/service: db}\n"))
    result = inputs.result()
    assert [(p.name, p.inbound_tags) for p in result.view.proxies] == [
        ("any-proxy", ({"kuma.io/service": "any-proxy"},)),
        ("any-proxy-2", ({"app": "any-proxy-2", "kuma.io/service": "any-proxy-2"},)),
        ("v1", ({"kuma.io/service": "v1", "version": "v1"},)),
        ("web", ({"kuma.io/service": "web"},)),
    ]
    # `*` asks for any-service only when no destination exists yet: here it is first, so both are synthesised.
    assert list(result.view.destinations) == [("default", "any-service"), ("default", "db")]
    assert result.report.lines() == ["info: preview mode: no Dataplane in the inputs; synthesised proxies: "
                                     "default/any-proxy, default/any-proxy-2, default/v1, default/web"]


def test_preview_wildcard_destination_after_a_named_one(inputs: Inputs) -> None:
    inputs.write(F, universal(destinations="destinations:\n- match: {kuma.io/service: db}\n"
                                           "- match: {kuma.io/service: '*'}\n"))
    assert list(inputs.result().view.destinations) == [("default", "db")]


def test_preview_http_vote(inputs: Inputs) -> None:
    # An http block makes the preview destinations it matches http; others stay tcp.
    inputs.write(F, universal(destinations="destinations:\n- match: {kuma.io/service: api}\n",
                              conf=[*GOOD_CONF, "http: {path: /}"])
                 + "---\n" + universal(destinations="destinations:\n- match: {kuma.io/service: db}\n")
                 .replace("name: hc", "name: other"))
    result = inputs.result()
    assert {d.name: d.protocol for d in result.view.destinations.values()} == {"api": "http", "db": "tcp"}
    assert {d.name: d.protocol for d in inputs.result(protocol="grpc").view.destinations.values()} == {
        "api": "grpc", "db": "grpc"}


# --- 03 §5 precedence with a HealthCheck ------------------------------------------------------------------------------

HTTP_BACKEND = WEB.replace("tags: {kuma.io/service: backend}\n  outbound: []",
                           "tags: {kuma.io/service: backend, kuma.io/protocol: http}\n  outbound: []")
MHC = ("---\ntype: MeshHealthCheck\nname: web-http\nspec:\n  to:\n  - targetRef: {kind: MeshService, name: backend}\n"
       "    default: {DEFAULT}\n")


def test_mhc_takes_precedence_with_warning(inputs: Inputs) -> None:
    inputs.write(F, HTTP_BACKEND + MHC.replace("{DEFAULT}", "{http: {}}")
                 + policy("legacy-web-backend", SVC_WEB, interval="7s"))
    assert inputs.warnings() == ["warning: proxy default/web cluster backend: health check from HealthCheck "
                                 "legacy-web-backend ignored: MeshHealthCheck web-http takes precedence"]
    check = clusters(inputs.render(), "web")["backend"]["health_checks"]
    assert [list(c)[-1] for c in check] == ["http_health_check"]


def test_hc_used_when_mhc_selects_no_checker(inputs: Inputs) -> None:
    inputs.write(F, HTTP_BACKEND + MHC.replace("{DEFAULT}", "{tcp: {}}")
                 + policy("legacy-web-backend", SVC_WEB, interval="7s"))
    assert inputs.warnings() == []
    assert clusters(inputs.render(), "web")["backend"]["health_checks"] == [
        {"timeout": "1s", "interval": "7s", "unhealthy_threshold": 1, "healthy_threshold": 1, "tcp_health_check": {}}]


def test_panic_settings_precedence(inputs: Inputs) -> None:
    hc = policy("legacy", SVC_WEB, interval="7s").replace("healthyThreshold: 1}", "healthyThreshold: 1, "
                                                                                  "failTrafficOnPanic: true}")
    inputs.write(F, HTTP_BACKEND + MHC.replace("{DEFAULT}", "{tcp: {}, healthyPanicThreshold: 30}") + hc)
    assert inputs.warnings() == [
        f"warning: {F}:28: MeshHealthCheck web-http: spec.to[0].default.healthyPanicThreshold: deprecated in Kuma "
        "2.10 (moved to MeshCircuitBreaker); kumahc still applies it",
        "warning: proxy default/web cluster backend: panic settings from HealthCheck legacy ignored: "
        "MeshHealthCheck web-http takes precedence"]
    c = clusters(inputs.render(), "web")["backend"]
    assert c["common_lb_config"] == {"healthy_panic_threshold": {"value": 30.0}}  # whole group, never mixed
    assert c["health_checks"][0]["interval"] == "7s"
