"""A sweep trained as one batch against its points run one at a time: prints a table.

    python benchmarks/batched_sweep.py                       # 16 finite_well points, V0 5 .. 400, CPU
    python benchmarks/batched_sweep.py --points 64 --device cuda

The batch is what `python -m pinn -m problem=finite_well problem.V0=... hydra/launcher=batched`
runs (pinn.batching): the points train together, then each point's own run refines, evaluates and
writes its files. Columns: each point's relative error and status in the batch and alone, and
the wall seconds of the whole sweep both ways (training, refinement and evaluation; files and
figures not written). Target (issue "Batched sweeps"): the batch within 4x one point's time on 2
CPU cores for 16 points, 2x on a GPU for 64, every point within 1e-8.
"""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
import time

import harness

from pinn import batching
from pinn.config import compose_config, validate
from pinn.problems import build_problem
from pinn.run import plain_config, run


def overrides(V0: float, args) -> list[str]:
    return ["problem=finite_well", f"problem.V0={V0:.6g}", f"device={args.device}", f"dtype={args.dtype}",
            f"seed={args.seed}", "trainer.progress=none"] + args.extra


def run_point(config, outcome=None) -> dict:
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()), \
            batching.handed_over(config, outcome):
        return run(config, out_dir=tmp, keep=False)


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--points", type=int, default=16)
    parser.add_argument("--alone", type=int, default=None, help="points to run alone as well (default: all)")
    args = harness.parse(parser)
    depths = [5.0 * (400.0 / 5.0) ** (k / max(args.points - 1, 1)) for k in range(args.points)]
    configs = [plain_config(compose_config(overrides(v, args))) for v in depths]
    for config in configs:  # the references are solved (and cached) before either timing starts
        build_problem(config["problem"]).reference(validate(config).reference_cache)

    start = time.perf_counter()
    outcomes = batching.train_batch(configs)
    if isinstance(outcomes, str):
        raise SystemExit(f"the points cannot share a batch: {outcomes}")
    together = [run_point(c, o) for c, o in zip(configs, outcomes)]
    batch_seconds = time.perf_counter() - start

    alone_count = args.points if args.alone is None else args.alone
    alone, alone_seconds = [], []
    for config in configs[:alone_count]:
        t = time.perf_counter()
        alone.append(run_point(config))
        alone_seconds.append(time.perf_counter() - t)

    print(f"{'V0':>8} {'batch err':>10} {'batch':>12} {'alone err':>10} {'alone':>12} {'alone s':>8}")
    print("-" * 66)
    for k, (config, m) in enumerate(zip(configs, together)):
        a = alone[k] if k < len(alone) else None
        print(f"{config['problem']['V0']:8.4g} {max(m['relative_errors']):10.1e} {m['status']:>12} "
              f"{max(a['relative_errors']) if a else math.nan:10.1e} {a['status'] if a else '-':>12} "
              f"{alone_seconds[k] if a else math.nan:8.1f}")
    one = sum(alone_seconds) / len(alone_seconds)
    print(f"\n{args.points} points as one batch: {batch_seconds:.1f} s; one point alone: {one:.1f} s on average "
          f"({sum(alone_seconds):.1f} s for {len(alone)}); batch / one point = {batch_seconds / one:.1f} "
          f"(target: 4 on 2 CPU cores for 16 points, 2 on a GPU for 64)")


if __name__ == "__main__":
    main()
