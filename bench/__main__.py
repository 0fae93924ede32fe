"""``python -m bench``: generate meshes and run the benchmarks (see bench/README.md).

    python -m bench run --size medium                      # generation, incremental, fan-out (N=200), Envoy
    python -m bench run --size small,medium --bench generation,incremental
    python -m bench run --bench fanout --clients 1000,5000
    python -m bench run --bench burst --burst-clients 5000     # 5,000 clients connecting at once
    python -m bench run --size medium --bench profile
    python -m bench run --size medium --bench store       # apply vs validate on a PostgreSQL store
    python -m bench run --size large --bench diff          # kumahc diff against one render
    python -m bench run --bench store-fanout              # 2 serve --store replicas x 1,000 clients vs the bare floor
    python -m bench run --size large --bench store-startup  # serve --store vs serve PATH start-up
    python -m bench run --size large --bench apply        # apply with the store's writer vs validate (issue 25)
    python -m bench run --size large --bench ui            # the operator pages' server time at 10,000 proxies
    python -m bench run --size medium --bench connected    # --render connected vs all: reloads, RSS, first response
    python -m bench run --size medium --bench gateways    # per-proxy render cost with a few builtin gateways
    python -m bench generate --size medium --out /tmp/mesh  # only write the inputs
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

BENCHES = ("generation", "incremental", "fanout", "envoy", "profile", "store", "burst", "inputs", "diff",
           "store-fanout", "store-startup", "ui", "connected", "gateways", "loading", "apply")
DEFAULT_BENCHES = ("generation", "incremental", "fanout", "envoy")


def _list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _ints(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in _list(text)]


def main(argv: list[str] | None = None) -> int:
    from bench.generator import SIZES

    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write a generated mesh (kumahc input files)")
    gen.add_argument("--size", choices=sorted(SIZES), required=True)
    gen.add_argument("--out", required=True, help="directory to create")
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--gateways", type=int, default=0, help="add N builtin gateways with routes (default 0)")
    run = sub.add_parser("run", help="run benchmarks and print tables")
    run.add_argument("--size", default="medium", help="comma-separated sizes for generation/incremental/profile "
                     f"({', '.join(SIZES)}); default medium")
    run.add_argument("--bench", default=",".join(DEFAULT_BENCHES),
                     help=f"comma-separated, from {', '.join(BENCHES)}; default {','.join(DEFAULT_BENCHES)}")
    run.add_argument("--clients", default="200", help="fan-out client counts N, comma-separated (default 200)")
    run.add_argument("--fanout-size", choices=sorted(SIZES), default=None,
                     help="mesh for fan-out (default: medium up to N=2000, else a medium-shaped mesh of N proxies)")
    run.add_argument("--client-procs", type=int, default=None,
                     help="client worker processes (default: ceil(N/1000), at most 4)")
    run.add_argument("--burst-clients", default="1500,5000",
                     help="connection-burst client counts N, comma-separated (default 1500,5000)")
    run.add_argument("--store-clients", type=int, default=1000,
                     help="store fan-out: clients per replica (default 1000; mesh: --fanout-size, default medium)")
    run.add_argument("--replicas", type=int, default=2, help="store fan-out: serve --store replicas (default 2)")
    run.add_argument("--store-edit", choices=("mesh", "one"), default="mesh",
                     help="store fan-out change: mesh = the Mesh-wide policy (every proxy), one = one per-service "
                          "policy (clients capped at the proxies it changes)")
    run.add_argument("--envoy-clusters", type=int, default=1000, help="clusters of the Envoy benchmark's proxy")
    run.add_argument("--repeat", type=int, default=None,
                     help="fresh processes per generation row / edits per incremental run (default 3; 1 for large)")
    run.add_argument("--rounds", type=int, default=None,
                     help="changes per server in fan-out (default 1) and Envoy (default 3)")
    run.add_argument("--churn", type=int, default=1500, help="reloads of distinct contents in the inputs bench")
    run.add_argument("--serve-edits", type=int, default=10,
                     help="edits before serve's RSS is read in the inputs bench (0: skip that row)")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--gateways", type=int, default=5, help="builtin gateways of the gateways bench (default 5)")
    run.add_argument("--keep", metavar="DIR", default=None, help="work in DIR and keep it (default: a temporary "
                     "directory, removed at the end)")
    args = parser.parse_args(argv)

    if args.command == "generate":
        from bench.generator import generate, with_size

        m = generate(args.out, with_size(args.size, gateways=args.gateways), args.seed)
        print(f"wrote {m.files} files to {args.out}: {m.counts}")
        return 0

    sizes = _list(args.size)
    benches = _list(args.bench)
    for s in sizes:
        if s not in SIZES:
            parser.error(f"unknown size {s!r}")
    for b in benches:
        if b not in BENCHES:
            parser.error(f"unknown benchmark {b!r}")

    from bench import report

    print(report.header(argv), flush=True)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="kumahc-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    failures = 0

    def section(name: str, fn) -> None:
        nonlocal failures
        started = time.monotonic()
        print(f"\n[{name}] running ...", flush=True)
        try:
            text = fn()
        except Exception:  # noqa: BLE001 - report and carry on with the other benchmarks
            failures += 1
            print(f"[{name}] FAILED after {time.monotonic() - started:.0f} s:\n{traceback.format_exc()}", flush=True)
            return
        print(f"{text}\n[{name}] took {time.monotonic() - started:.0f} s", flush=True)

    try:
        from bench import generation
        from bench.generator import generate

        for size in sizes:
            if not {"generation", "incremental", "profile", "store", "inputs", "diff", "store-startup",
                    "ui", "connected", "gateways", "loading", "apply"} & set(benches):
                break
            repeat = args.repeat or (1 if size == "large" else 3)
            mesh = work / f"mesh-{size}"
            shutil.rmtree(mesh, ignore_errors=True)
            t = time.monotonic()
            m = generate(mesh, size, args.seed)
            print(f"\ngenerated {size} (seed {args.seed}) in {time.monotonic() - t:.1f} s: {m.files} files, "
                  f"{m.counts}", flush=True)
            if "generation" in benches:
                section(f"generation {size}", lambda m=mesh, s=size, r=repeat: generation.generation(m, s, r, work))
            if "incremental" in benches:
                section(f"incremental {size}", lambda m=mesh, s=size, r=repeat: generation.incremental(m, s, r, work))
            if "profile" in benches:
                section(f"profile {size}", lambda m=mesh, s=size: generation.profile(m, s, work))
            if "store" in benches:
                from bench.store_bench import store_bench

                section(f"store {size}", lambda mp=mesh, mm=m, s=size, r=repeat: store_bench(mp, mm, s, r))
            if "apply" in benches:
                from bench.apply_bench import apply_bench

                section(f"apply {size}", lambda mp=mesh, mm=m, s=size, r=repeat: apply_bench(mp, mm, s, r, work))
            if "inputs" in benches:
                from bench.inputs import inputs

                section(f"inputs {size}", lambda m=mesh, s=size, r=repeat: inputs(
                    m, s, work, r, args.churn, args.serve_edits))
            if "loading" in benches:
                from bench.loading import loading

                section(f"loading {size}", lambda m=mesh, s=size, r=repeat: loading(m, s, work, r))
            if "diff" in benches:
                from bench.diff_bench import diff_bench

                section(f"diff {size}", lambda m=mesh, s=size, r=repeat: diff_bench(m, s, r, work))
            if "store-startup" in benches:
                from bench.store_serve import store_startup

                section(f"store start-up {size}", lambda mp=mesh, mm=m, s=size, r=args.repeat or 1:
                        store_startup(mp, mm, s, r))
            if "ui" in benches:
                from bench.ui_bench import ui_bench

                section(f"ui {size}", lambda m=mesh, s=size: ui_bench(m, s, args.repeat or 20))
            if "connected" in benches:
                from bench.connected import connected_bench

                section(f"connected {size}", lambda m=mesh, s=size: connected_bench(m, s, work))
            if "gateways" in benches:
                from bench.gateways_bench import gateways_bench

                section(f"gateways {size}", lambda s=size: gateways_bench(s, args.gateways, args.repeat or 5,
                                                                         args.seed, work))
            if not args.keep:
                shutil.rmtree(mesh, ignore_errors=True)
        if "fanout" in benches:
            from bench.fanout import fanout

            section("fan-out", lambda: fanout(_ints(args.clients), work, args.seed, args.rounds or 1,
                                              args.client_procs, args.fanout_size))
        if "store-fanout" in benches:
            from bench.store_serve import store_fanout

            section("store fan-out", lambda: store_fanout(args.store_clients, args.replicas, work, args.seed,
                                                          args.rounds or 1, args.fanout_size or "medium",
                                                          args.store_edit))
        if "burst" in benches:
            from bench.burst import burst

            section("burst", lambda: burst(_ints(args.burst_clients), work, args.client_procs))
        if "envoy" in benches:
            from bench.envoy_bench import envoy_bench

            section("envoy", lambda: envoy_bench(args.envoy_clusters, work, args.seed, args.rounds or 3))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
