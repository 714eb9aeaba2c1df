#!/usr/bin/env python3
"""PyTorch's own runs of the rotational figure: the referee its checks are calibrated against.

Trains the twin of one of our models (built from its architecture JSON, as scripts/ilr_torch/twin.py builds
it) on Fashion-MNIST, average-pooled as our runs pool it, once per optimizer, and prints per
scale-invariant layer (every conv weight of a cnn4-si model) the root mean square of its angular
update per step over windows of steps, divided by its predicted equilibrium, and the layer's norm
at the end of each window. The RMS is what the equilibrium fixes: the decay's shrinking balances
the growth by the squared step, |w|²·E[θ²] (the mean angle is a little smaller). The
angle is computed in float64 from the float32 weights before and after each step, split along and
across the old weight (ilr_torch/runs.py angle_between), so angles of 1e-3 rad are not lost to rounding.

    node dist/cli.js architecture --model cnn4-si --input 1x14x14 > /tmp/arch.json
    /usr/bin/python3 scripts/rotational_calibration.py --model /tmp/arch.json --pool 2 --steps 2500 \\
        --runs '[{"name": "adamw", "optimizer": "adamw", "lr": 0.02, "wd": 0.1}]'

The predictions are the ones src/programs/optimizers.ts gives (Kosson et al. 2023): SGD with
coupled WD and heavy-ball momentum β: sqrt(2*lr*wd/(1+beta)); AdamW: sqrt(2*lr*wd*(1-b1)/(1+b1)),
norm sqrt(lr*C/(2*wd)) for C weights; Adam with L2 has none, and its ratios are given against
AdamW's angle at the same lr and wd (the spread between layers is what is measured).
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in scripts/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ilr_torch.referee import make_optimizer  # noqa: E402
from ilr_torch.runs import Batches, angle_between, load_pooled  # noqa: E402
from ilr_torch.twin import build_model, parse_model_arg  # noqa: E402

RUN_KEYS = {"name", "optimizer", "lr", "wd", "momentum", "betas"}


def predicted(run, size):
    """(angle, norm or None) of a layer of `size` weights; Adam with L2 is given AdamW's angle."""
    lr, wd = run["lr"], run["wd"]
    if run["optimizer"] == "sgd":
        beta = run.get("momentum", 0.0)
        return math.sqrt(2 * lr * wd / (1 + beta)), None
    b1 = run.get("betas", [0.9, 0.999])[0]
    return math.sqrt(2 * lr * wd * (1 - b1) / (1 + b1)), math.sqrt(lr * size / (2 * wd))


def replay_optim(run):
    """A run as the referee's parsed `optim` (scripts/ilr_torch/referee.py), with the hyperparameters
    under the names src/programs/optimizers.ts gives the programs' inputs."""
    if run["optimizer"] == "sgd":
        hyper = {"momentum": run.get("momentum", 0.0)}
    else:
        beta1, beta2 = run.get("betas", [0.9, 0.999])
        hyper = {"beta1": beta1, "beta2": beta2, "eps": 1e-8}
    return {"optimizer": run["optimizer"], "hyper": hyper, "settings": {}, "lr": [run["lr"]], "wd": [run["wd"]]}


def train_one(arch, x, y, run, args):
    torch.manual_seed(args.seed)
    model = build_model(arch)
    convs = {s["name"]: model.get_submodule(s["name"]).weight for s in arch["steps"] if s["call"] == "Conv2d"}
    opt = make_optimizer([p for p in model.parameters() if p.requires_grad], replay_optim(run))
    stream = Batches(len(x), args.batch)
    sums = {k: 0.0 for k in convs}
    windows = []
    for t in range(args.steps):
        idx = stream.next()
        before = {k: w.detach().flatten().clone() for k, w in convs.items()}
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
        for k, w in convs.items():
            sums[k] += angle_between(before[k], w.detach().flatten())[0] ** 2
        if (t + 1) % args.window == 0:
            layers = {}
            for k, w in convs.items():
                angle, norm = predicted(run, w.numel())
                layers[k] = {"weights": w.numel(), "ratio": math.sqrt(sums[k] / args.window) / angle,
                             "norm": float(w.detach().double().norm()), "equilibrium_norm": norm}
            windows.append({"to": t + 1, "lambda_eta_step": (t + 1) * run["lr"] * run["wd"], "layers": layers})
            sums = {k: 0.0 for k in convs}
    return windows


def print_table(run, windows):
    names = list(windows[0]["layers"])
    print(f"\n{run['name']} ({run['optimizer']}, lr {run['lr']}, wd {run['wd']}, momentum {run.get('momentum', 0)}): "
          "RMS angular update / prediction per window; norm (AdamW's equilibrium norm)")
    print("| step (λη·step) | " + " | ".join(f"{n} ({windows[0]['layers'][n]['weights']})" for n in names) + " | norms |")
    print("|---|" + "---|" * (len(names) + 1))
    for w in windows:
        ratios = " | ".join(f"{w['layers'][n]['ratio']:.2f}" for n in names)
        norms = " / ".join(f"{w['layers'][n]['norm']:.2f}" + (f" ({w['layers'][n]['equilibrium_norm']:.2f})" if w["layers"][n]["equilibrium_norm"] else "") for n in names)
        print(f"| {w['to']} ({w['lambda_eta_step']:.2f}) | {ratios} | {norms} |")
    sys.stdout.flush()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="architecture JSON (text or file) from `node dist/cli.js architecture`")
    p.add_argument("--runs", required=True, help='JSON list of {"name", "optimizer" (sgd|adamw|adam), "lr", "wd", "momentum", "betas"}')
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--pool", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=2500)
    p.add_argument("--window", type=int, default=250)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write every window as JSON to this file")
    args = p.parse_args()
    runs = json.loads(args.runs)
    for r in runs:
        if set(r) - RUN_KEYS or r.get("optimizer") not in ("sgd", "adamw", "adam"):
            sys.exit(f"--runs: each run takes {sorted(RUN_KEYS)} with optimizer sgd, adamw or adam; got {r}")
    torch.set_num_threads(args.threads)
    arch = parse_model_arg(args.model)
    x, y = load_pooled(args.data_dir, args.pool, "train")
    out = {}
    for r in runs:
        out[r["name"]] = train_one(arch, x, y, r, args)
        print_table(r, out[r["name"]])
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"runs": runs, "windows": out, "torch": torch.__version__}, f, indent=1)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()
