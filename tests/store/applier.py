"""One concurrent applier for test_concurrency.py: ``python applier.py URL WHO N DIR`` applies N times, through
kumahc's apply, a MeshHealthCheck named WHO (interval i+1 s), the MeshHealthCheck ``shared`` (label
``writer: WHO-i``) and the Dataplane ``dp-WHO``; prints a JSON list of [committed revision, attempts] per apply."""

from __future__ import annotations

import json
import sys

from kumahc.apply import apply
from kumahc.diagnostics import Report
from kumahc.sources import files
from kumahc.sources.store import connection


def policy(name: str, interval: int, labels: str = "{}") -> str:
    return (f"type: MeshHealthCheck\nname: {name}\nmesh: default\nlabels: {labels}\nspec:\n"
            f"  targetRef: {{kind: Mesh}}\n  to: [{{targetRef: {{kind: Mesh}}, default: {{interval: {interval}s, "
            "tcp: {}}}]\n")


# Unchanged after the first apply; on a retried attempt its document must still be there (the pipeline releases
# typed Dataplanes' documents).
DATAPLANE = ("type: Dataplane\nname: dp-{who}\nmesh: default\nnetworking:\n  address: 10.0.0.1\n"
             "  inbound: [{{port: 1, tags: {{kuma.io/service: {who}}}}}]\n")


def main(url: str, who: str, n: int, directory: str) -> None:
    out = []
    with connection.session(url) as conn:
        for i in range(n):
            path = f"{directory}/{who}-{i}.yaml"
            with open(path, "w") as fh:
                fh.write(policy(who, i + 1) + "---\n" + policy("shared", 1, f"{{writer: {who}-{i}}}") + "---\n"
                         + DATAPLANE.format(who=who))
            report = Report()
            outcome = apply(conn, files.read([path], report), report)
            out.append([outcome.revision, outcome.attempts])
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
