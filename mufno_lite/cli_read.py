"""The read commands of the CLI: ``status`` and ``export`` (:mod:`mufno_lite.cli` registers them).

They open the store read-only, create no file or folder, and refuse a missing store or an
unknown ``--sweep`` with a ``ValueError`` that :func:`mufno_lite.cli.main` prints as one line
``error: …`` (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["configure_status", "configure_export"]


_STORE_HINT = " (pass --store PATH, or set $MUFNO_RESULTS)"


def add_wait_arg(parser: argparse.ArgumentParser) -> None:
    """``--wait SECONDS``: how long a command waits for a store another process has locked."""
    parser.add_argument("--wait", type=float, default=60.0, metavar="SECONDS",
                        help="wait this long for a store another process has locked (announced; default 60)")


def open_store(args):
    """The ``ResultsStore`` of ``--store`` / ``--wait`` (a bad ``--wait`` refused by name)."""
    import math

    from .store import ResultsStore

    wait = args.wait
    if not (math.isfinite(wait) and 0 <= wait <= 86400):
        raise ValueError(f"--wait must be a number of seconds in [0, 86400]; got --wait={wait!r}")
    return ResultsStore(args.store, timeout_s=wait)


def configure_status(parser: argparse.ArgumentParser):
    """``status``: counts of runs by status, per parametrization and K."""
    parser.add_argument("config", nargs="?", default=None, help="a sweep config (counts its runs, pending included)")
    parser.add_argument("--store", default=None, help="results file (default: $MUFNO_RESULTS or results/results.sqlite)")
    parser.add_argument("--sweep", default=None, help="only runs of this sweep (by name)")
    add_wait_arg(parser)

    def run(args) -> int:
        import pandas as pd

        from .store import load_results, require_source
        from .sweep import SweepConfig, sweep_status

        store = open_store(args)
        if args.config is not None:
            cfg = SweepConfig.from_file(args.config)
            df = sweep_status(cfg, store)
            title = f"sweep {cfg.name!r}"
        else:
            require_source(store, args.sweep, hint=_STORE_HINT)
            res = load_results(store, sweep=args.sweep)
            df = res[["run_id", "parametrization", "K", "status"]].copy()
            if args.sweep is not None:
                missing = sorted(set(store.sweep_run_ids(args.sweep)) - set(df["run_id"]))
                if missing:  # planned but not run yet: take K and parametrization from the stored config
                    meta = {}
                    raw = store.sweep_config(args.sweep)
                    if raw is not None:
                        try:
                            meta = {r.run_id: (r.config["parametrization"]["kind"], r.config["model"]["K"])
                                    for r in SweepConfig.from_dict(raw).expand()}
                        except ValueError:
                            meta = {}
                    df = pd.concat([df, pd.DataFrame({
                        "run_id": missing, "parametrization": [meta.get(m, ("?", -1))[0] for m in missing],
                        "K": [meta.get(m, ("?", -1))[1] for m in missing], "status": "pending"})], ignore_index=True)
            title = f"sweep {args.sweep!r}" if args.sweep else "all runs"
        print(f"{title} in {store.path}: {len(df)} runs")
        if len(df) == 0:
            return 0
        totals = df["status"].value_counts()
        print("  " + ", ".join(f"{k}: {int(totals.get(k, 0))}" for k in ("done", "diverged", "failed", "pending")
                               if k in totals or k != "pending"))
        table = pd.crosstab([df["parametrization"], df["K"]], df["status"])
        print(table.to_string())
        return 0

    return run


def configure_export(parser: argparse.ArgumentParser):
    """``export``: the results table (one row per run) as CSV, written all or nothing."""
    parser.add_argument("--store", default=None, help="results file (default: $MUFNO_RESULTS or results/results.sqlite)")
    parser.add_argument("--sweep", default=None, help="only runs of this sweep")
    parser.add_argument("--csv", required=True, metavar="OUT.csv", help="output file ('-': standard output)")
    add_wait_arg(parser)

    def run(args) -> int:
        from pathlib import Path

        from .outdir import write_file
        from .store import load_results, require_source

        store = open_store(args)
        out = Path(args.csv)
        if out.is_dir():
            raise ValueError(f"--csv {str(out)!r} is a directory; give a file path such as results.csv")
        require_source(store, args.sweep, hint=_STORE_HINT)
        df = load_results(store, sweep=args.sweep)
        for c in ("train_curve", "test_curve", "config"):
            df[c] = [None if v is None else json.dumps(v, sort_keys=True) for v in df[c]]
        df["sweeps"] = [";".join(v) for v in df["sweeps"]]
        where = write_file(out, lambda target: df.to_csv(target, index=False), key="--csv")
        print(f"wrote {len(df)} runs to {where}", file=sys.stderr if where == "standard output" else sys.stdout)
        return 0

    return run
