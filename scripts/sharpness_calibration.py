#!/usr/bin/env python3
"""PyTorch's own full-batch GD + WD runs with their sharpness: the referee the full-batch figure's
sharpness checks are calibrated against.

Trains the twin of one of our models (its architecture JSON, as scripts/ilr_torch/twin.py builds
it) by full-batch gradient descent with coupled weight decay (torch.optim.SGD) on a class-balanced
subset of Fashion-MNIST's training images, normalised with the subset's mean and std as our runs
are, with WD switched off at --wd-off. Every --every steps it measures, with exact Hessian-vector
products (double backward), the largest eigenvalue λ_max of the Hessian of the
loss over the scale-invariant weights (every conv weight of a -si model) by Lanczos, and prints
one JSON line per measurement (step, loss, |w|, λ_max, η·λ_max, |w|²·λ_max) and a summary line
with what the full-batch figure checks: the median η·λ_max over the quiet measurements (loss below
--threshold, WD on); each loss spike (as src/analysis/equilibrium.ts relativeSpikes finds them),
the largest η·λ_max in the --lookback steps before it and whether |w| shrank over them; and over
the longest quiet stretch, how far the spherical sharpness |w|²·λ_max fell and how far λ_max moved.

    node dist/cli.js architecture --model cnn4-si --input 1x28x28 --bn-eps 1e-10 > /tmp/arch.json
    /usr/bin/python3 scripts/sharpness_calibration.py --model /tmp/arch.json --seed 0
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in scripts/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ilr_torch.runs import read_idx  # noqa: E402
from ilr_torch.twin import build_model, parse_model_arg  # noqa: E402


def balanced_subset(labels, per_class, seed):
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(10)]
    return np.sort(np.concatenate(picked))


def relative_spikes(loss, factor):
    """src/analysis/equilibrium.ts relativeSpikes: the loss above factor × its trough starts a
    spike, which ends when the loss falls below its peak / factor (that point is the next trough)."""
    spikes, trough, peak, high = [], math.inf, -math.inf, False
    for t, l in enumerate(loss):
        if not math.isfinite(l):
            continue
        if not high:
            if l > factor * trough:
                spikes.append(t)
                high, peak = True, l
            else:
                trough = min(trough, l)
        else:
            peak = max(peak, l)
            if l < peak / factor:
                high, trough = False, l
    return spikes


def lanczos_top(hvp, size, generator, start=None, tol=1e-3, max_iterations=60):
    """The largest eigenvalue of a symmetric operator and its unit eigenvector (fully
    reorthogonalised Lanczos), from `start` (the last measurement's eigenvector) plus a random part."""
    q = torch.randn(size, generator=generator, dtype=torch.float64)
    if start is not None:
        q = start / start.norm() + 0.1 * q / q.norm()
    q /= q.norm()
    basis, alpha, beta = [], [], []
    while True:
        basis.append(q)
        r = hvp(q)
        alpha.append(torch.dot(q, r).item())
        for _ in range(2):
            for b in basis:
                r -= torch.dot(r, b) * b
        b = r.norm().item()
        t = torch.diag(torch.tensor(alpha, dtype=torch.float64))
        if beta:
            off = torch.tensor(beta, dtype=torch.float64)
            t += torch.diag(off, 1) + torch.diag(off, -1)
        values, vectors = torch.linalg.eigh(t)
        theta, s = values[-1].item(), vectors[:, -1]
        if b * abs(s[-1].item()) <= tol * abs(theta) or len(basis) >= min(max_iterations, size) or b == 0:
            return theta, torch.stack(basis, 1) @ s, len(basis)
        beta.append(b)
        q = r / b


def sharpness(model, x, y, names, generator, start):
    """λ_max of the Hessian of the train-mode loss over the parameters `names` (exact products by
    double backward, in the model's float32; the Lanczos vectors in float64), and its eigenvector."""
    params = dict(model.named_parameters())
    wrt = [params[k] for k in names]
    loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, wrt, create_graph=True)
    sizes = [p.numel() for p in wrt]

    def hvp(v):
        parts = [c.reshape(p.shape) for c, p in zip(torch.split(v, sizes), wrt)]
        return torch.cat([h.flatten() for h in torch.autograd.grad(grads, wrt, grad_outputs=[t.float() for t in parts], retain_graph=True)]).double()

    top, vector, iterations = lanczos_top(hvp, sum(sizes), generator, start)
    return top, iterations, vector


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="the architecture (JSON text or file) of a 1-channel -si model")
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--images", type=int, default=100, help="training images, class-balanced (default 100)")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--wd", type=float, default=0.05)
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--wd-off", type=int, default=490)
    p.add_argument("--every", type=int, default=10, help="measure λ_max every this many steps")
    p.add_argument("--spike-factor", type=float, default=10)
    p.add_argument("--threshold", type=float, default=0.05, help="a measurement is in a quiet stretch when the loss is below this")
    p.add_argument("--lookback", type=int, default=30, help="steps before a spike searched for η·λ_max ≥ 2")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="seed of the subset, the initialisation and the Lanczos starts")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    arch = parse_model_arg(a.model)
    images = read_idx(os.path.join(a.data_dir, "train-images-idx3-ubyte.gz")).reshape(-1, 28, 28).astype(np.float32) / 255
    labels = read_idx(os.path.join(a.data_dir, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    idx = balanced_subset(labels, a.images // 10, a.seed)
    x = torch.from_numpy(images[idx]).unsqueeze(1)
    x = (x - x.mean()) / x.std(unbiased=False)
    y = torch.from_numpy(labels[idx])
    model = build_model(arch)
    names = [k for k, q in model.named_parameters() if q.requires_grad and k.endswith("weight") and q.dim() == 4]
    opt = torch.optim.SGD([q for q in model.parameters() if q.requires_grad], lr=a.lr, weight_decay=a.wd)
    generator = torch.Generator().manual_seed(a.seed)
    losses, records, vector = [], [], None
    for step in range(a.steps):
        if step == a.wd_off:
            for g in opt.param_groups:
                g["weight_decay"] = 0.0
        model.train()
        if step % a.every == 0:
            top, iterations, vector = sharpness(model, x, y, names, generator, vector)
            w = math.sqrt(sum(float(model.state_dict()[k].double().pow(2).sum()) for k in names))
            rec = {"step": step, "lambda_max": top, "lr_lambda_max": a.lr * top, "weight_norm": w, "spherical": w * w * top, "iterations": iterations}
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % a.every == 0:
            rec["loss"] = losses[-1]
            records.append(rec)
            print(json.dumps(rec), flush=True)
    # Spikes as the figure counts them (src/analysis/equilibrium.ts relativeSpikes): the loss above
    # spike-factor × its running minimum, once per excursion.
    spikes = relative_spikes(losses[:a.wd_off], a.spike_factor)
    print(json.dumps({"summary": True, "seed": a.seed, **summarize(records, losses, spikes, a), "final_loss": losses[-1]}))


def summarize(records, losses, spikes, a):
    """The quantities the full-batch figure checks (src/experiments/full-batch.ts checkSharpness),
    from the measurements (every --every steps) and the per-step losses."""
    quiet = [r for r in records if 0 < r["step"] < a.wd_off and r["loss"] < a.threshold]
    edge = sorted(r["lr_lambda_max"] for r in quiet)
    median = (edge[(len(edge) - 1) // 2] + edge[len(edge) // 2]) / 2 if edge else float("nan")
    before_spikes = []
    for s in spikes:
        before = [r for r in records if s - a.lookback <= r["step"] < s]
        before_spikes.append({"spike": s, "max_lr_lambda_max_before": max((r["lr_lambda_max"] for r in before), default=float("nan")),
                              "w_shrank_before": len(before) >= 2 and before[-1]["weight_norm"] < before[0]["weight_norm"]})
    # The longest run of consecutive quiet measurements that no spike interrupts (checkSharpness's longestQuietStretch).
    best, run = [], []
    for r in records:
        broken = r not in quiet or (run and any(run[-1]["step"] < s <= r["step"] for s in spikes))
        run = ([r] if r in quiet else []) if broken else run + [r]
        if len(run) > len(best):
            best = list(run)
    stretch = {}
    if len(best) >= 2:
        lam = [r["lambda_max"] for r in best]
        stretch = {"longest_quiet_steps": [best[0]["step"], best[-1]["step"]], "spherical_fall": best[-1]["spherical"] / best[0]["spherical"],
                   "lambda_max_band": max(lam) / min(lam), "weight_norm_fall": best[-1]["weight_norm"] / best[0]["weight_norm"]}
    return {"quiet_median_lr_lambda_max": median, "quiet_measurements": len(quiet), "spikes": before_spikes, **stretch}


if __name__ == "__main__":
    main()
