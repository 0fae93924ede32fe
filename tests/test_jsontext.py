"""The fast JSON text is byte-identical to ``json.dumps(indent=2, ensure_ascii=False)``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kumahc.jsontext import dumps_indent2, list_text, shift

GOLDEN = Path(__file__).resolve().parent.parent / "golden"

TRICKY = [
    {"f": [62.9, 60.0, 0.1, 1e-07, 1e-05, 100.0, 1e300, 1.5e16, -0.0]},
    {"s": "é\u2028\x00\x1f\x7f\"\\/\t\n\r\b\f", "emoji": "🙂", "rtl": "\u202eabc"},
    {"empty": {}, "list": [], "nested": [[], [{}], {"a": [1, 2]}]},
    {"big": 2**63 + 1, "neg": -(2**70)},
    {"path": "/v1e5/x", "host": "1e100.net", "bool": [True, False, None]},
    {"hex": "70696e670a", "quote": 'a\\"1e5', "mixed": ["1e5", 1e-05, '\\"', 2.5e-08]},
    {"k1e5": 1.0, "esc": "\\\\", "after": 3e-05},
    {"tiny": 1e-05}, {"small": 0.0001}, {"big": 1e16}, {"n": None, "x": 1.5},
    [1e-05, 1e-06, 123456789012345.6, 1.7976931348623157e308, 5e-324],
    {"nan": float("nan")}, {"inf": float("inf"), "minf": float("-inf")},
    [], {}, "plain", 3, 2.5,
]


@pytest.mark.parametrize("value", TRICKY)
def test_same_bytes_as_the_standard_library(value: object) -> None:
    assert dumps_indent2(value) == json.dumps(value, indent=2, ensure_ascii=False)


def test_every_golden_document_and_cluster() -> None:
    count = 0
    for expected in sorted(GOLDEN.glob("*/expected.json")):
        doc = json.loads(expected.read_text(encoding="utf-8"))
        assert dumps_indent2(doc) + "\n" == expected.read_text(encoding="utf-8")
        for proxy in doc["proxies"]:
            clusters = proxy["clusters"]
            assert list_text([shift(dumps_indent2(c)) for c in clusters]) == json.dumps(
                clusters, indent=2, ensure_ascii=False)
            count += 1
    assert count >= 30


def test_cluster_json_with_shared_parts_equals_json_format() -> None:
    from envoy.config.cluster.v3 import cluster_pb2
    from google.protobuf import json_format

    from kumahc.render import ClusterJson, cluster_json

    convert = ClusterJson()
    count = 0
    for expected in sorted(GOLDEN.glob("*/expected.json")):
        for proxy in json.loads(expected.read_text(encoding="utf-8"))["proxies"]:
            for c in proxy["clusters"]:
                message = json_format.ParseDict({k: v for k, v in c.items() if k != "@type"}, cluster_pb2.Cluster())
                assert convert(message) == cluster_json(message) == c
                assert list(convert(message)) == list(c)  # same key order
                count += 1
    assert count >= 60


def test_random_json_values_are_byte_identical() -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    leaves = st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats() | st.text(max_size=20)
    values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)

    @settings(max_examples=400, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(values)
    def check(value: object) -> None:
        assert dumps_indent2(value) == json.dumps(value, indent=2, ensure_ascii=False)

    check()
