"""neuraloperator's FNO trained under bench_external.py's protocol; run by the *peer* venv's python.

Standalone (torch and neuraloperator only; mufno_lite is not imported), so that it runs in a venv
that holds neuraloperator (``--peer-python`` of ``bench_external.py``).  It reimplements, line for
line, the protocol mufno_lite's trainer follows there: per-channel normalisation of x and y
fitted on the training split (eps 1e-5), the same batch order (one ``randperm`` per epoch from a
generator seeded ``data_seed``, last partial batch dropped), Adam with L2 weight decay, a cosine
schedule over all steps, the mean relative L2 of the decoded output as the loss; then the mean
relative L2 on the 16² test file and, zero-shot, on the 32² file.  Prints one JSON line.

    PEER/bin/python benchmarks/peer_neuralop.py --data DIR --seed 0 --epochs 50 --n-modes 16
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch


def read(path):
    d = torch.load(path, weights_only=True)
    x, y = d["x"], d["y"]
    if x.dim() == 3:
        x, y = x.unsqueeze(1), y.unsqueeze(1)
    return x.float(), y.float()


def channel_stats(t):
    dims = (0, *range(2, t.dim()))
    return t.mean(dim=dims, keepdim=True)[0], t.std(dim=dims, keepdim=True)[0]


def rel_l2(pred, y):
    dims = tuple(range(1, y.dim()))
    return torch.linalg.vector_norm(pred - y, dim=dims) / torch.linalg.vector_norm(y, dim=dims)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--n-modes", type=int, default=16)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--n-layers", type=int, default=4)
    ap.add_argument("--domain-padding", type=float, default=0.0, help="neuraloperator's domain_padding (0: none)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    import neuralop
    from neuralop.models import FNO

    folder = Path(args.data)
    xtr, ytr = read(folder / "darcy_train_16.pt")
    xte, yte = read(folder / "darcy_test_16.pt")
    x32, y32 = read(folder / "darcy_test_32.pt")
    xtr, ytr = xtr[: args.n_train], ytr[: args.n_train]
    xte, yte, x32, y32 = xte[: args.n_test], yte[: args.n_test], x32[: args.n_test], y32[: args.n_test]
    eps = 1e-5
    xm, xs = channel_stats(xtr)
    ym, ys = channel_stats(ytr)
    enc = lambda x: (x - xm[None]) / (xs[None] + eps)  # noqa: E731
    dec = lambda y: y * (ys[None] + eps) + ym[None]  # noqa: E731

    torch.manual_seed(args.seed)
    model = FNO(n_modes=(args.n_modes, args.n_modes), in_channels=1, out_channels=1, hidden_channels=args.width,
                n_layers=args.n_layers, domain_padding=args.domain_padding or None)
    n_real = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())

    n, bs = xtr.shape[0], args.batch_size
    per_epoch = n // bs
    steps = args.epochs * per_epoch
    g = torch.Generator().manual_seed(args.seed)  # data_seed = seed, as bench_external sets it
    idx = torch.cat([torch.randperm(n, generator=g)[: per_epoch * bs] for _ in range(args.epochs)]).view(-1, bs)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1.0 + math.cos(math.pi * s / steps)))
    xtr_e = enc(xtr)
    step_times = []
    t0 = time.perf_counter()
    model.train()
    for step in range(steps):
        ts = time.perf_counter()
        b = idx[step]
        loss = rel_l2(dec(model(xtr_e[b])), ytr[b]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step_times.append(time.perf_counter() - ts)
    wall = time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        e16 = float(rel_l2(dec(model(enc(xte))), yte).mean())
        e32 = float(rel_l2(dec(model(enc(x32))), y32).mean())
    print(json.dumps({"library": f"neuraloperator {neuralop.__version__}", "seed": args.seed, "test16": e16,
                      "zero_shot32": e32, "step_ms": 1e3 * statistics.median(step_times), "steps": steps,
                      "wall_s": wall, "params_real": n_real, "torch_threads": torch.get_num_threads()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
