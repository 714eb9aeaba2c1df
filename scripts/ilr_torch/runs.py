"""Training runs in PyTorch alone, as referees of a figure's dynamics: `angular` (the decay figure),
and the angle and data helpers scripts/rotational_calibration.py shares."""

import glob
import gzip
import math
import os
import statistics

import numpy as np
import torch
import torch.nn.functional as F

from .twin import BadInput, build_model, parse_model_arg


def angle_between(a, b):
    """(stable angle, naive angle) between two float32 weight vectors. The stable one splits b - a
    into its parts along and across a in float64 (as src/train/metrics.ts angularUpdate); the naive
    one is acos of the float32 cosine, whose rounding floor is about 1e-2 rad for 1e5 weights."""
    a64, d = a.double(), (b - a).double()
    along = float(d @ a64) / float(a64.norm())
    across = math.sqrt(max(float(d @ d) - along * along, 0.0))
    naive = math.acos(max(-1.0, min(1.0, float(a @ b / (a.norm() * b.norm())))))
    return math.atan2(across, float(a64.norm()) + along), naive


def read_idx(path):
    with (gzip.open(path) if path.endswith(".gz") else open(path, "rb")) as f:
        data = f.read()
    if len(data) < 8 or data[2] != 8 or data[3] not in (1, 3):
        raise BadInput(f"{path}: not an IDX file of unsigned bytes")
    return np.frombuffer(data, np.uint8, offset=4 + 4 * data[3])


class Batches:
    """Indices of batches of `batch` of n images, reshuffled at each pass (a pass's last partial
    batch dropped): the data order of PyTorch's own runs, drawn from torch's global generator."""

    def __init__(self, n, batch):
        self.n, self.batch, self.perm, self.pos = n, batch, torch.randperm(n), 0

    def next(self):
        if self.pos + self.batch > self.n:
            self.perm, self.pos = torch.randperm(self.n), 0
        idx = self.perm[self.pos:self.pos + self.batch]
        self.pos += self.batch
        return idx


def load_pooled(data_dir, pool, split):
    """One split ("train" or "t10k") of the IDX images in `data_dir`, average-pooled as our runs pool
    them and standardised with the pooled training images' mean and std: (x [N,1,H,W], y [N])."""
    def read(kind):
        found = glob.glob(os.path.join(data_dir, f"{kind}-idx*-ubyte*"))
        if not found:
            raise BadInput(f"--data-dir {data_dir}: no {kind} IDX file (Fashion-MNIST or MNIST)")
        return read_idx(found[0])

    def images(s):
        x = torch.tensor(read(f"{s}-images").reshape(-1, 1, 28, 28).astype(np.float32))
        if pool > 1:
            # Our pooling (src/data/pool.ts) averages the bytes and rounds back to bytes.
            x = torch.round(F.avg_pool2d(x, pool))
        return x / 255.0

    train = images("train")
    x = train if split == "train" else images(split)
    y = torch.tensor(read(f"{split}-labels").astype(np.int64))
    return (x - train.mean()) / train.std(), y


def cmd_angular(args):
    """PyTorch's own run of the angular-update dynamics, as the decay figure measures them."""
    x, y = load_pooled(args.data_dir, 1, "train")
    arch = parse_model_arg(args.model)
    if arch["inChannels"] != 1:
        raise BadInput(f"--model has inChannels={arch['inChannels']}; the IDX images have 1 channel")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = build_model(arch)  # with the TypeScript side's init distributions, fcScale included
    convs = [model.get_submodule(s["name"]).weight for s in arch["steps"] if s["call"] == "Conv2d"]
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=args.wd)
    stream, windows, acc = Batches(len(x), args.batch), [], []
    for t in range(args.steps):
        if t == args.decay_step:
            for g in opt.param_groups:
                g[args.decay] /= 10
        idx = stream.next()
        before = torch.cat([p.detach().flatten() for p in convs])
        opt.zero_grad()
        F.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
        acc.append(angle_between(before, torch.cat([p.detach().flatten() for p in convs])))
        if (t + 1) % args.window == 0:
            g = opt.param_groups[0]
            windows.append({"from": t + 1 - args.window, "to": t + 1, "lr": g["lr"], "wd": g["weight_decay"],
                            "predicted": math.sqrt(2 * g["lr"] * g["weight_decay"]),
                            "angular_update": statistics.fmean(a for a, _ in acc),
                            "angular_update_float32_acos": statistics.fmean(b for _, b in acc)})
            acc = []
    return {"model": arch["model"], "batch": args.batch, "windows": windows, "torch": torch.__version__}
