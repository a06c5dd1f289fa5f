"""mufno_lite on an external data set: neuraloperator's small Darcy files (issue 11).

Given a folder with ``darcy_train_16.pt``, ``darcy_test_16.pt`` and ``darcy_test_32.pt`` (the
small Darcy set neuraloperator ships for its examples; *you* fetch it, nothing is downloaded
here), this trains one mufno_lite FNO through the public own-data path (``load_files`` →
``train_model`` → ``evaluate``) and prints the test error at 16², the zero-shot error at 32² and
the median time of a training step.  Never pass/fail.

    python benchmarks/bench_external.py --data PATH/TO/neuralop/data/datasets/data --epochs 50

Without ``--data`` it writes *synthetic* files in the same format first (``--synthetic DIR``,
default a temporary folder): mufno_lite's own Darcy solver at 32² (coefficients 12/3 thresholded
into bool, solved on a finer grid), the 16² files subsampled ``[::2]`` from it as neuraloperator's
are, keys ``x`` (bool, (N, s, s)) and ``y`` (float32, (N, s, s)).  Those numbers measure the
pipeline, not a comparison with neuraloperator's published errors.

The own-data decisions apply: per-channel normalisation (x and y), the ``periodic`` grid channel
(``i/n``: data subsampled ``[::2]``), padding as a fraction of the axis (1/8), so the model runs at
32² unchanged.  The training follows neuraloperator's Darcy example where it can: Adam, lr 8e-3,
weight decay 1e-4, batch 32, relative-L2 loss, width 32, 4 layers, K 8 (n_modes 16).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mufno_lite.data import load_dataset, load_files, read_pair  # noqa: E402
from mufno_lite.fno import FNO, count_parameters  # noqa: E402
from mufno_lite.train import TrainConfig, evaluate, train_model  # noqa: E402

FILES = ("darcy_train_16.pt", "darcy_test_16.pt", "darcy_test_32.pt")


def make_synthetic(folder, n_train: int = 1000, n_test: int = 50, seed: int = 0) -> Path:
    """Write synthetic ``darcy_{train,test}_16.pt`` and ``darcy_test_32.pt`` in neuraloperator's format."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ds = load_dataset("darcy", resolution=32, n_train=n_train, n_test=n_test, seed=seed, solve_resolution=63,
                      n_modes=32, cache_dir=False)

    def write(name, x, y, step):
        a = x[:, 0, ::step, ::step]
        torch.save({"x": (a > 0.5 * (a.max() + a.min())).contiguous(),
                    "y": y[:, 0, ::step, ::step].contiguous().float()}, folder / name)

    write("darcy_train_16.pt", ds.x_train, ds.y_train, 2)
    write("darcy_test_16.pt", ds.x_test, ds.y_test, 2)
    write("darcy_test_32.pt", ds.x_test, ds.y_test, 1)
    return folder


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=None, help="folder with neuraloperator's darcy_*_16.pt / darcy_test_32.pt")
    ap.add_argument("--synthetic", default=None, help="folder for synthetic files (when --data is not given)")
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=8e-3)
    ap.add_argument("--K", type=int, default=8)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    if args.data:
        folder = Path(args.data)
        missing = [f for f in FILES if not (folder / f).is_file()]
        if missing:
            print(f"error: {folder} lacks {missing} (fetch neuraloperator's small Darcy set yourself)")
            return 2
        source = f"neuraloperator's files in {folder}"
    else:
        folder = Path(args.synthetic or tempfile.mkdtemp(prefix="mufno_darcy_"))
        t = time.perf_counter()
        make_synthetic(folder, args.n_train, args.n_test, args.seed)
        source = f"SYNTHETIC files in neuraloperator's format ({folder}, written in {time.perf_counter() - t:.1f} s)"

    ds = load_files(folder / FILES[0], folder / FILES[1], n_train=args.n_train, n_test=args.n_test, d=2)
    x32, y32 = read_pair(folder / FILES[2])
    x32, y32 = x32[: args.n_test], y32[: args.n_test]
    model = FNO(d=2, K=args.K, width=args.width, n_layers=4, projection_width=128, padding=0.125,
                grid_convention="periodic", seed=args.seed)
    train = TrainConfig.for_epochs(args.epochs, ds.x_train.shape[0], batch_size=args.batch_size, lr=args.lr,
                                   weight_decay=1e-4, schedule="cosine", normalize_y=True)
    stamps = []
    r = train_model(model, ds, train, progress=lambda step, total: stamps.append(time.perf_counter()))
    steps = [b - a for a, b in zip(stamps, stamps[1:])]
    e16 = evaluate(model, ds, train=train)
    e32 = evaluate(model, (x32, y32), normalizers=ds, train=train)
    print(f"data: {source}")
    print(f"train {tuple(ds.x_train.shape)} ({ds.x_train.dtype}; the files hold {read_pair(folder / FILES[0])[0].dtype}), "
          f"test 16² {tuple(ds.x_test.shape)}, test 32² {tuple(np.shape(x32))}")
    print(f"model: FNO d=2 K={args.K} width={args.width} 4 layers, padding 1/8, periodic grid, "
          f"{count_parameters(model.config)['total']:,} parameters; {train.steps} steps "
          f"({args.epochs} epochs of {ds.x_train.shape[0] // args.batch_size} batches of {args.batch_size}), "
          f"torch threads {torch.get_num_threads()}")
    print(f"test rel-L2 at 16²: {float(e16.mean()):.4f} (trainer: {r.test_rel_l2:.4f})")
    print(f"zero-shot rel-L2 at 32²: {float(e32.mean()):.4f} ({float(e32.mean()) / float(e16.mean()):.2f}× the 16² error)")
    print(f"step time: median {1e3 * statistics.median(steps):.2f} ms over {len(steps)} steps "
          f"(total {r.wall_time_s:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
