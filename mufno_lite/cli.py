"""Command line interface: ``python -m mufno_lite <subcommand> …`` (also the ``mufno-lite`` script).

Every subcommand is registered here (the CLI is a leaf: it imports the package, nothing in the
package imports it): ``sweep`` (run or resume a sweep), ``status`` (counts by status, per K and
parametrization), ``export`` (the results table as CSV), ``search-quick`` (the recorded CPU search),
``reproduce`` (the notebooks through papermill), ``experiment`` (one of the paper's experiments),
``summary`` (optima and drift of every experiment in the store) and ``plan`` (a preset's cost,
estimated before it runs).  Each imports what it needs
lazily, inside its configure or run function, so ``--help`` stays light.

Adding a subcommand
-------------------
Write a function that receives its ``argparse`` sub-parser, adds the arguments, and returns the
handler ``run(args) -> int`` (the exit code); register it with the :func:`subcommand` decorator::

    @subcommand("figures", help="draw every figure from the results table")
    def _figures(parser):
        parser.add_argument("--store")
        def run(args):
            ...
            return 0
        return run

Register it here, importing the module that does the work inside the function (see
``reproduce`` below).  :data:`SUBCOMMAND_MODULES` (empty) remains for code outside the package
that registers subcommands from its own module.

Exit codes: 0 success; 1 a sweep recorded failed runs; 2 bad arguments, an invalid config, or a
store or file that cannot be used (refused with one line ``error: …`` on stderr naming the
parameter or file, its value and what is allowed — a missing, corrupt, foreign or newer store, a
folder given as a file, an unwritable path, a full disk); 130 / 143 a sweep stopped by SIGINT /
SIGTERM (what was completed is saved; the message says how to resume), and 130 for Ctrl-C anywhere
else (one line, no traceback); 141 when stdout is a closed pipe (``status | head``: the output is
dropped quietly, as a shell's SIGPIPE would).

Read commands (``status``, ``export``, ``summary``) open the store read-only: they create no file
or folder and refuse a missing store.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Callable

__all__ = ["subcommand", "build_parser", "main", "SUBCOMMANDS", "SUBCOMMAND_MODULES"]

#: name -> (help, configure(parser) -> run(args) -> int)
SUBCOMMANDS: dict[str, tuple[str, Callable]] = {}
#: modules outside the package that register further subcommands with :func:`subcommand` when imported
SUBCOMMAND_MODULES: tuple[str, ...] = ()


def subcommand(name: str, *, help: str = ""):
    """Register ``configure(parser) -> run`` as the subcommand ``name``."""

    def deco(configure: Callable) -> Callable:
        if name in SUBCOMMANDS and SUBCOMMANDS[name][1] is not configure:
            raise ValueError(f"subcommand {name!r} is already registered")
        SUBCOMMANDS[name] = (help, configure)
        return configure

    return deco


def build_parser() -> argparse.ArgumentParser:
    for mod in SUBCOMMAND_MODULES:
        importlib.import_module(mod)
    parser = argparse.ArgumentParser(
        prog="python -m mufno_lite",
        description="mufno_lite: muP and muTransfer for Fourier Neural Operators.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"mufno_lite {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    subs.required = True
    for name, (hlp, configure) in SUBCOMMANDS.items():
        p = subs.add_parser(name, help=hlp, description=hlp)
        run = configure(p)
        p.set_defaults(_run=run)
    return parser


MAX_ERROR_CHARS = 1000


def _one_line(msg) -> str:
    text = " ".join(str(msg).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def _error(msg: str) -> int:
    print(f"error: {_one_line(msg)}", file=sys.stderr)
    return 2


def _os_error(e: OSError, what: str = "") -> str:
    name = f" {str(e.filename)!r}" if getattr(e, "filename", None) else ""
    return f"{what}{name}: {e.strerror or e}" if (what or name) else str(e.strerror or e)


def _load_config(path: str):
    from .sweep import SweepConfig

    return SweepConfig.from_file(path)


# ---------------------------------------------------------------------------------------------
# sweep
# ---------------------------------------------------------------------------------------------


@subcommand("sweep", help="run (or resume) a sweep from a YAML/JSON config; results go to the store")
def _sweep(parser: argparse.ArgumentParser):
    parser.add_argument("config", help="sweep config file (.yaml, .yml or .json)")
    parser.add_argument("--store", default=None,
                        help="results file (default: $MUFNO_RESULTS or results/results.sqlite)")
    parser.add_argument("--dry-run", action="store_true", help="show what would run; train nothing")
    from .cli_read import add_wait_arg

    add_wait_arg(parser)
    parser.add_argument("--plan", action="store_true",
                        help="print the plan (chunks, peak memory, FLOPs, estimated time) and exit; train nothing")
    parser.add_argument("--device", choices=["cpu", "cuda", "auto"], default=None,
                        help="override the config's device")
    parser.add_argument("--max-populations", type=int, default=None, metavar="N",
                        help="stop after N populations (resume later)")
    parser.add_argument("--progress", choices=["auto", "on", "off"], default="auto",
                        help="progress bars (auto: on when stderr is a terminal and $CI is unset)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch CPU threads (default: torch's choice; 1 is fastest for tiny models on busy cores)")
    changed = parser.add_mutually_exclusive_group()
    changed.add_argument("--replace", action="store_true",
                         help="the config changed under this sweep name: the name lists only this config's runs "
                              "from now on (stored rows of the old runs are kept)")
    changed.add_argument("--extend", action="store_true",
                         help="the config adds runs to this sweep name (it must keep every stored run)")
    ray_opts = parser.add_argument_group("executor", "where populations train (ray: pip install 'mufno-lite[cluster]')")
    ray_opts.add_argument("--executor", choices=["inprocess", "pool", "ray"], default="inprocess",
                          help="inprocess (default): one after the other here; pool: one local process per core "
                               "(--workers); ray: one Ray task per population")
    ray_opts.add_argument("--workers", type=int, default=None, metavar="N",
                          help="processes of the pool executor (default: all cores; 1 torch thread each unless --threads)")
    ray_opts.add_argument("--ray-address", default=None, metavar="ADDR",
                          help="join a running cluster: 'auto', HOST:6379 or ray://HOST:10001 "
                               "(default: start a private local Ray instance)")
    ray_opts.add_argument("--ray-num-cpus", type=int, default=None, metavar="N",
                          help="CPUs of the local Ray instance (no --ray-address only; default: all)")
    ray_opts.add_argument("--ray-num-gpus", type=float, default=None, metavar="G",
                          help="GPUs each population asks for (default: 1 with --device cuda, else 0; "
                               "> 0 trains on cuda on the workers; a fraction shares a GPU and its memory)")
    ray_opts.add_argument("--ray-max-retries", type=int, default=None, metavar="N",
                          help="retries of a population whose worker or node died (default 2)")

    def run(args) -> int:
        from .sweep import resolve_device, run_sweep, sweep_status

        for opt in ("ray_address", "ray_num_cpus", "ray_num_gpus", "ray_max_retries"):
            if getattr(args, opt) is not None and args.executor != "ray":
                flag = "--" + opt.replace("_", "-")
                return _error(f"{flag} applies to --executor ray only; got {flag}={str(getattr(args, opt))[:80]} "
                              f"with --executor {args.executor}")
        if args.workers is not None and args.executor != "pool":
            return _error(f"--workers applies to --executor pool only; got --workers={args.workers} "
                          f"with --executor {args.executor}")
        if_changed = "replace" if args.replace else "extend" if args.extend else "refuse"
        try:
            cfg = _load_config(args.config)
            if args.max_populations is not None and args.max_populations < 1:
                raise ValueError(f"--max-populations must be >= 1; got {args.max_populations}")
            if args.threads is not None:
                if args.threads < 1:
                    raise ValueError(f"--threads must be >= 1; got {args.threads}")
                import torch

                torch.set_num_threads(args.threads)
            ray_gpus = None
            if args.executor == "ray":
                from .sweep.executors.ray import gpus_per_task

                ray_gpus = gpus_per_task(args.device or cfg.device, args.ray_num_gpus)
            if args.device is not None:
                resolve_device(args.device)
        except ValueError as e:
            return _error(str(e))
        if args.plan:
            from .plan import plan_sweep, render_plan

            try:
                print(render_plan(plan_sweep(cfg, device=args.device or cfg.device)))
            except ValueError as e:
                return _error(str(e))
            return 0
        from .cli_read import open_store

        try:
            store = open_store(args)
        except ValueError as e:
            return _error(str(e))
        if args.dry_run:
            try:  # the sweep's own planning: nothing is trained or written
                run_sweep(cfg, store, device=args.device, dry_run=True, verbose=False, handle_signals=False,
                          if_changed=if_changed)
            except ValueError as e:
                return _error(str(e))
            df = sweep_status(cfg, store)
            df["pending"] = ~df["status"].isin(["done", "diverged"])
            plan = (df.groupby(["parametrization", "K", "batch_size"], sort=True)
                      .agg(runs=("run_id", "size"), to_run=("pending", "sum")).reset_index())
            print(f"sweep {cfg.name!r} ({cfg.pde}, resolution {cfg.data['resolution']}): {len(df)} runs, "
                  f"{int(df['pending'].sum())} to run; store {store.path}")
            print(plan.to_string(index=False))
            print(f"learning rates: {', '.join(f'{x:.3g}' for x in cfg.lrs)}")
            return 0
        progress = {"auto": None, "on": True, "off": False}[args.progress]
        executor = None
        if args.executor == "pool":
            from .sweep.executors.pool import LocalPoolExecutor

            try:
                executor = LocalPoolExecutor(workers=args.workers, threads=args.threads or 1)
            except ValueError as e:
                return _error(str(e))
        elif args.executor == "ray":
            from .sweep.executors.ray import RayExecutor

            try:
                executor = RayExecutor(address=args.ray_address, num_cpus=args.ray_num_cpus,
                                       num_gpus_per_task=ray_gpus,
                                       max_retries=2 if args.ray_max_retries is None else args.ray_max_retries,
                                       **({"torch_threads": args.threads} if args.threads is not None else {}))
            except (ImportError, ValueError) as e:
                return _error(str(e))
        try:
            report = run_sweep(cfg, store, device=args.device, max_populations=args.max_populations,
                               progress=progress, config_path=args.config, executor=executor,
                               if_changed=if_changed)
        except ValueError as e:
            return _error(str(e))
        finally:
            if executor is not None and hasattr(executor, "close"):
                executor.close()
        if report.status == "interrupted":
            return report.exit_code
        return 1 if report.n_failed else 0

    return run


# ---------------------------------------------------------------------------------------------
# status, export (the read commands: mufno_lite.cli_read)
# ---------------------------------------------------------------------------------------------


@subcommand("status", help="counts of runs by status, per parametrization and K")
def _status(parser: argparse.ArgumentParser):
    from .cli_read import configure_status

    return configure_status(parser)


@subcommand("export", help="write the results table (one row per run) as CSV")
def _export(parser: argparse.ArgumentParser):
    from .cli_read import configure_export

    return configure_export(parser)


@subcommand("search-quick", help="the recorded search for a CPU configuration that shows (or refutes) the paper's effect")
def _search(parser: argparse.ArgumentParser):
    parser.add_argument("--store", default=None, help="results file (default: $MUFNO_RESULTS or results/results.sqlite)")
    parser.add_argument("--tier", default="session", choices=["session", "extended", "all"],
                        help="which part of the declared grid (session: about an hour on 2 cores)")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="only these candidates")
    parser.add_argument("--report", action="store_true", help="train nothing; print the table from the store")
    parser.add_argument("--list", action="store_true", help="list the declared candidates and the criterion")

    def run(args) -> int:
        from . import search

        if args.list:
            print(f"criterion: {search.CRITERION}")
            for name, (tier, cfg) in search.CANDIDATES.items():
                print(f"  {name:36} tier={tier:8} pde={cfg['pde']} K={cfg['K']} width={cfg['model']['width']} "
                      f"steps={cfg['train']['steps']} seeds={len(cfg['seeds'])} lr_group={cfg['train'].get('lr_group', 'all')}")
            return 0
        try:
            table = search.run_search(args.store, tier=args.tier, only=args.only, report_only=args.report)
        except ValueError as exc:
            return _error(str(exc))
        print(f"criterion: {search.CRITERION}")
        print(search.format_table(table))
        choice, why = search.choose(table)
        print(f"choice: {choice} ({why})")
        return 0

    return run


# ---------------------------------------------------------------------------------------------
# reproduce, experiment, summary (the work is done in their modules)
# ---------------------------------------------------------------------------------------------


@subcommand("reproduce", help="run the notebooks headless through papermill (figures -> figures/)")
def _reproduce(parser: argparse.ArgumentParser):
    from .reproduce import _configure

    return _configure(parser)


@subcommand("experiment", help="run (or resume) one of the paper's experiments by name, e.g. burgers_lr")
def _experiment(parser: argparse.ArgumentParser):
    from .experiments import _configure_cli

    return _configure_cli()(parser)


@subcommand("summary", help="optimal hyperparameter per K and its drift (with bootstrap intervals over seeds), "
                            "for every experiment in the store")
def _summary(parser: argparse.ArgumentParser):
    from .experiments import _configure_summary_cli

    return _configure_summary_cli()(parser)


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so that Python's exit-time flush stays silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


# ---------------------------------------------------------------------------------------------
# plan (mufno_lite.plan: chunks, peak memory, FLOPs and time before anything runs)
# ---------------------------------------------------------------------------------------------


@subcommand("plan", help="estimate a preset's experiments before running them: runs, populations, chunks, "
                         "peak memory per chunk, FLOPs, time here and on a reference H100")
def _plan(parser: argparse.ArgumentParser):
    from .presets import PRESETS

    parser.add_argument("--preset", default="auto", choices=PRESETS + ("auto", "all"),
                        help="which sizes (all: every preset, one table each)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (the device whose time is estimated)")
    parser.add_argument("--experiments", nargs="+", default=None, metavar="NAME", help="only these experiments")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="populations at once (default: as reproduce runs them: one per core on a CPU, "
                             "one on a GPU)")

    def run(args) -> int:
        from .plan import reproduction_plan, plan_experiments, render_plan
        from .presets import resolve_preset

        from .sweep.executors.pool import check_workers

        names = [p for p in PRESETS] if args.preset == "all" else [resolve_preset(args.preset)]
        try:
            if args.workers is not None:
                check_workers(args.workers, "--workers")
            if args.experiments:
                from .experiments import EXPERIMENTS
                from .validation import choice

                for e in args.experiments:
                    choice("--experiments", e, tuple(EXPERIMENTS))
            for i, name in enumerate(names):
                if args.experiments:
                    plan = plan_experiments(name, args.experiments, device=args.device, workers=args.workers or 1)
                else:
                    plan = reproduction_plan(name, args.device, workers=args.workers)
                print(("\n" if i else "") + render_plan(plan))
        except ValueError as e:
            return _error(str(e))
        return 0

    return run


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (see the module docstring).

    Bad input (``ValueError`` — config errors, store errors — ``OSError`` and YAML errors) ends with
    one line ``error: …`` and exit 2; Ctrl-C with one line and 130; a closed stdout pipe quietly with
    141.  argparse's own errors keep its usage line and exit 2.
    """
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        code = int(args._run(args) or 0)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        print("\ninterrupted (Ctrl-C); a sweep keeps what it completed: run the same command again to resume",
              file=sys.stderr)
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except OSError as e:
        return _error(_os_error(e))
    except ValueError as e:
        return _error(str(e))
    except Exception as e:  # noqa: BLE001
        if type(e).__module__.split(".")[0] == "yaml":  # a YAML syntax error in a config
            return _error(f"cannot parse the config ({type(e).__name__}): {e}")
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
