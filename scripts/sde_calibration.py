#!/usr/bin/env python3
"""PyTorch's own SGD and SVAG runs: the referee the `sde` figure's checks are calibrated against.

SVAG (Li, Malladi & Arora 2021; sadhikamalladi/svag, pl_modules/exp_modules.py) with parameter L:
each optimizer step draws two independent batches of B, computes each loss with its own batch
statistics, and steps with g = c1*grad L1 + c2*grad L2, c1,2 = (1 +- sqrt(2L-1))/2, at the LR eta/L
with the usual weight decay; L optimizer steps make one unit of SDE time. L = 1 is SGD (c2 = 0).
(svag's code splits one loader batch of 2B into the two halves; here, as in our trainer, the two
batches are the next two of the stream.)

Trains the twin of one of our models (built from its architecture JSON, as scripts/ilr_torch/twin.py
builds it) on Fashion-MNIST, average-pooled as our runs pool it, once per (L, seed), and prints per
window of SDE time the norm of the trained (scale-invariant) weights, the root mean square of the
angle of each optimizer step divided by its prediction sqrt(2(eta/L)lambda), and at the end the
test accuracy, with BatchNorm's running statistics or (--bn-recompute N) statistics recomputed on N
train images, as the figure's evaluations use them.

    node dist/cli.js architecture --model cnn4-si --input 1x14x14 --widths 8 16 32 > /tmp/arch.json
    /usr/bin/python3 scripts/sde_calibration.py --model /tmp/arch.json --lr 0.1 --wd 0.02 --units 1500 \\
        --svag 1 2 4 8 --seeds 0 1 2
"""
import argparse
import json
import math
import os
import statistics
import sys

import torch

sys.dont_write_bytecode = True  # no __pycache__ in scripts/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ilr_torch.referee import svag_loss  # noqa: E402
from ilr_torch.runs import Batches, angle_between, load_pooled  # noqa: E402
from ilr_torch.twin import build_model, parse_model_arg  # noqa: E402


def test_accuracy(model, x, y, bn_images):
    """Accuracy on (x, y); with `bn_images`, BatchNorm's statistics are first recomputed on them
    (torch's update_bn: the running statistics lag the weights at a large λη, and lag less the more
    optimizer steps a unit of SDE time has, which would favour a larger L)."""
    if bn_images is not None:
        torch.optim.swa_utils.update_bn([bn_images[i:i + 500] for i in range(0, len(bn_images), 500)], model)
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum()) for i in range(0, len(x), 1000))
    model.train()
    return correct / len(x)


def train_one(arch, train, test, l, seed, args):
    bn_images = None
    if args.bn_recompute:
        g = torch.Generator().manual_seed(1000 + seed)
        bn_images = train[0][torch.randperm(len(train[0]), generator=g)[:args.bn_recompute]]
    torch.manual_seed(seed)
    model = build_model(arch)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=args.lr / l, weight_decay=args.wd)
    predicted = math.sqrt(2 * (args.lr / l) * args.wd)
    x, y = train
    stream = Batches(len(x), args.batch)
    windows, evals, sq, steps = [], [], 0.0, 0
    for unit in range(1, args.units + 1):
        for _ in range(l):
            before = torch.cat([p.detach().flatten() for p in params])
            opt.zero_grad()
            # SVAG's two batches are the stream's next two, as in our trainer.
            svag_loss(model, [(x[i], y[i]) for i in (stream.next() for _ in range(1 if l == 1 else 2))], l).backward()
            opt.step()
            sq += angle_between(before, torch.cat([p.detach().flatten() for p in params]))[0] ** 2
            steps += 1
        if unit % args.window == 0:
            norm = float(torch.cat([p.detach().flatten() for p in params]).double().norm())
            windows.append({"to": unit, "lambda_eta_t": unit * args.lr * args.wd, "w_norm": norm,
                            "angle_ratio": math.sqrt(sq / steps) / predicted})
            sq, steps = 0.0, 0
        if unit % args.eval_every == 0 or unit == args.units:
            evals.append({"to": unit, "test_acc": test_accuracy(model, *test, bn_images)})
    last = [e["test_acc"] for e in evals if e["to"] > args.units - args.acc_window]
    return {"svag": l, "seed": seed, "windows": windows, "evals": evals, "test_acc": evals[-1]["test_acc"], "test_acc_late": statistics.fmean(last)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="architecture JSON (text or file) from `node dist/cli.js architecture`")
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--pool", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--wd", type=float, required=True)
    p.add_argument("--units", type=int, required=True, help="units of SDE time (SGD steps)")
    p.add_argument("--window", type=int, default=100, help="units of SDE time per printed window")
    p.add_argument("--svag", type=int, nargs="+", default=[1, 2, 4, 8], help="SVAG's L of each run (1: SGD)")
    p.add_argument("--eval-every", type=int, default=100, help="units of SDE time between test evaluations")
    p.add_argument("--acc-window", type=int, default=250, help="the late test accuracy: the mean over the evaluations in the last N units")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--test-subset", type=int, default=2000, help="the first N test images (0: all)")
    p.add_argument("--norm-window", type=float, nargs=2, default=[2.0, 4.0], help="the equilibrium window, in λη·t")
    p.add_argument("--bn-recompute", type=int, default=0, help="recompute BatchNorm's statistics on N train images before each evaluation (0: running statistics)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", help="also write every run as JSON to this file")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    arch = parse_model_arg(args.model)
    train = load_pooled(args.data_dir, args.pool, "train")
    tx, ty = load_pooled(args.data_dir, args.pool, "t10k")
    test = (tx[:args.test_subset], ty[:args.test_subset]) if args.test_subset else (tx, ty)
    runs = []
    for l in args.svag:
        for seed in args.seeds:
            r = train_one(arch, train, test, l, seed, args)
            runs.append(r)
            ws = r["windows"]
            print(f"L {l} seed {seed}: test acc {r['test_acc']:.4f} (late mean {r['test_acc_late']:.4f}); |w| / angle ratio by λη·t: "
                  + ", ".join(f"{w['lambda_eta_t']:.2f}: {w['w_norm']:.3f} / {w['angle_ratio']:.2f}" for w in ws), flush=True)
    w0, w1 = args.norm_window
    print(f"\n| L | seeds | mean |w| over λη·t {w0}–{w1} | RMS angle / prediction there | final test acc | late test acc (last {args.acc_window} units) |")
    print("|---|---|---|---|---|---|")
    for l in args.svag:
        rs = [r for r in runs if r["svag"] == l]
        inside = [[w for w in r["windows"] if w0 < w["lambda_eta_t"] <= w1] for r in rs]
        norms = [statistics.fmean(w["w_norm"] for w in ws) for ws in inside]
        ratios = [math.sqrt(statistics.fmean(w["angle_ratio"] ** 2 for w in ws)) for ws in inside]
        cell = lambda xs, f: " / ".join(f.format(v) for v in xs)  # noqa: E731
        print(f"| {l} | {len(rs)} | {cell(norms, '{:.3f}')} | {cell(ratios, '{:.3f}')} | {cell([r['test_acc'] for r in rs], '{:.4f}')} | {cell([r['test_acc_late'] for r in rs], '{:.4f}')} |")
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"args": vars(args), "runs": runs, "torch": torch.__version__}, f, indent=1)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()
