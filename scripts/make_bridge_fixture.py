#!/usr/bin/python3
"""Fixtures and a self-test for scripts/torch_bridge.py.

Why: the bridge is the referee of the TypeScript ONNX programs, so it has to be checked itself
before its verdicts mean anything. This script writes files in exactly the format the TS side
writes, with PyTorch *float32* standing in for "ours", so the bridge must accept them (errors at
float32 rounding, ~1e-6), reject a 1% perturbation (exit 1) and refuse malformed files (exit 2).
The fixtures also serve as examples of the file contract.

  /usr/bin/python3 scripts/make_bridge_fixture.py parity --model preresnet8 --input 3x32x32 --out f.safetensors
  /usr/bin/python3 scripts/make_bridge_fixture.py sgd --model cnn4-si --input 1x28x28 --momentum 0.9 --out f.safetensors
  /usr/bin/python3 scripts/make_bridge_fixture.py logits --model preresnet20 --out f.safetensors
  /usr/bin/python3 scripts/make_bridge_fixture.py checkpoint --model preresnet20 --out ckpt.safetensors
  /usr/bin/python3 scripts/make_bridge_fixture.py selftest            # the whole matrix, prints a table
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in scripts/
sys.path.insert(0, HERE)
from safetensors_io import write_safetensors  # noqa: E402
from torch_bridge import build_model, running_stat_names, trainable_names  # noqa: E402

BRIDGE = os.path.join(HERE, "torch_bridge.py")
CLI = os.path.join(HERE, "..", "dist", "cli.js")


def architecture(model, shape, bn_eps=None):
    """The architecture the TypeScript side records for a preset (needs `npx tsc` first): the
    fixtures describe exactly the networks our programs build."""
    argv = ["node", CLI, "architecture", "--model", model, "--input", "x".join(map(str, shape))]
    if bn_eps is not None:
        argv += ["--bn-eps", repr(bn_eps)]
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed (is dist/ built? npx tsc -p tsconfig.json):\n{p.stderr}")
    return json.loads(p.stdout)


def parse_input(text):
    c, h, w = (int(v) for v in text.lower().split("x"))
    return c, h, w


def make_model(arch, seed):
    """A float32 model with non-default norm parameters and running stats, so that every path of the
    reference (affine, eval statistics, fcScale) is exercised rather than sitting at identity."""
    torch.manual_seed(seed)
    model = build_model(arch)  # fcScale is in the architecture's init
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.GroupNorm, torch.nn.LayerNorm)) and m.weight is not None:
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(7)
    return model


def make_batch(arch, shape, batch, gen):
    x = torch.randn(batch, *shape, generator=gen)
    y = torch.randint(0, arch["numClasses"], (batch,), generator=gen)
    return x, y


def state_of(model, prefix=""):
    return {prefix + k: v.detach().clone() for k, v in model.state_dict().items()}


def perturb(tensors, name, factor=1.01):
    if name not in tensors:
        raise SystemExit(f"--perturb {name}: no such tensor; choose one of {sorted(tensors)}")
    tensors[name] = tensors[name] * factor


def fixture_parity(arch, shape, batch, seed):
    model = make_model(arch, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    x, y = make_batch(arch, shape, batch, gen)
    t = state_of(model)
    t["input"], t["target"] = x, y
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    t["ours.logits"], t["ours.loss"] = logits.detach(), loss.detach()
    params = dict(model.named_parameters())
    for k in trainable_names(model):
        t["ours.grad." + k] = params[k].grad.clone()
    buffers = dict(model.named_buffers())
    for k in running_stat_names(model):
        t["ours.buffer." + k] = buffers[k].clone()  # after the forward pass: updated
    return t, {}


def fixture_sgd(arch, shape, batch, seed, lr, wd, momentum, steps):
    model = make_model(arch, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    t = state_of(model, "init.")
    params = dict(model.named_parameters())
    names = trainable_names(model)
    opt = torch.optim.SGD([params[k] for k in names], lr=lr, momentum=momentum, weight_decay=wd)
    model.train()
    losses = []
    for k in range(steps):
        x, y = make_batch(arch, shape, batch, gen)
        t[f"batch.{k}.input"], t[f"batch.{k}.target"] = x, y
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    t.update(state_of(model, "final."))
    if momentum > 0:
        for k in names:
            t["final.optimizer.momentum_buffer." + k] = opt.state[params[k]]["momentum_buffer"].clone()
    t["ours.losses"] = torch.tensor(losses, dtype=torch.float32)
    return t, {"optim": json.dumps({"lr": lr, "wd": wd, "momentum": momentum, "steps": steps})}


def fixture_logits(arch, shape, batch, seed):
    model = make_model(arch, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    x, _ = make_batch(arch, shape, batch, gen)
    t = state_of(model)
    model.eval()
    with torch.no_grad():
        t["ours.logits"] = model(x)
    t["input"] = x
    return t, {}


def fixture_checkpoint(arch, seed):
    return state_of(make_model(arch, seed)), {}


def write(out, arch, tensors, meta):
    meta = dict(meta)
    meta["model"] = json.dumps(arch["model"])
    meta["architecture"] = json.dumps(arch)
    write_safetensors(out, tensors, meta)


# ---------------------------------------------------------------------------------------------
# Self-test
# ---------------------------------------------------------------------------------------------

def run_bridge(*argv):
    p = subprocess.run([sys.executable, BRIDGE, *argv], capture_output=True, text=True)
    try:
        result = json.loads(p.stdout) if p.stdout.strip() else None
    except json.JSONDecodeError:
        result = None
    return p.returncode, result, p.stderr.strip()


def scale_invariance(name, c_eps=None):
    """L(2W) vs L(W), scaling all conv weights jointly, float64, train mode; plus the same for one
    conv alone (not invariant in a residual net) and <grad L, W> / (|grad L||W|)."""
    arch = architecture(name, (3, 32, 32), c_eps)
    model = make_model(arch, 0).double()
    gen = torch.Generator().manual_seed(5)
    x, y = make_batch(arch, (3, 32, 32), 16, gen)
    x = x.double()
    model.train()
    convs = [p for k, p in model.named_parameters() if "conv" in k or "downsample" in k]

    def loss_at(scale_all=1.0, one=None):
        saved = [p.detach().clone() for p in convs]
        with torch.no_grad():
            for p in convs:
                p.mul_(scale_all)
            if one is not None:
                one.mul_(2.0)
        loss = F.cross_entropy(model(x), y).item()
        with torch.no_grad():
            for p, s in zip(convs, saved):
                p.copy_(s)
        return loss

    base = loss_at()
    joint = loss_at(2.0)
    single = loss_at(one=dict(model.named_parameters())["layer1.0.conv2.weight"])
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    g = torch.cat([p.grad.reshape(-1) for p in convs])
    w = torch.cat([p.detach().reshape(-1) for p in convs])
    cos = (g @ w / (g.norm() * w.norm())).item()
    return {"bnEps": arch["model"]["bnEps"], "L(W)": base, "rel|L(2W)-L(W)|": abs(joint - base) / abs(base),
            "rel|L(2 w_layer1.0.conv2)-L(W)|": abs(single - base) / abs(base), "cos(grad,W)": cos}


def selftest(args):
    """The matrix the brief asks for; prints one line per check and exits 1 if any check fails."""
    tmp = tempfile.mkdtemp(prefix="bridge-selftest-")
    models = ["preresnet8", "preresnet20-si", "cnn4"]
    inputs = ["3x32x32", "1x28x28"]
    failures = []
    rows = []
    skipped = []

    def check(label, code, result, stderr, want):
        ok = code == want
        err = result.get("max_rel_err") if result else None
        worst = result.get("worst") if result else None
        rows.append((label, code, want, err, worst))
        line = f"{'PASS' if ok else 'FAIL'}  {label:58s} exit {code} (want {want})"
        if err is not None:
            line += f"  max_rel_err {err:.2e}" if isinstance(err, float) else f"  max_rel_err {err}"
            line += f" [{worst}]"
        if code == 2 and stderr:
            line += f"\n      stderr: {stderr.splitlines()[-1][:200]}"
        print(line, flush=True)
        if not ok:
            failures.append(label)
            if stderr:
                print("      " + stderr[-2000:].replace("\n", "\n      "))

    def clean_and_perturbed(kind, tag, make, target, cmd):
        """Finds a well-conditioned seed (PyTorch's own float32 run within tol of float64; an
        ill-conditioned one is reported and skipped: the bridge flags it with `warning`), then
        checks that the clean fixture passes and a 1% perturbation of `target` fails."""
        f = os.path.join(tmp, "fixture.safetensors")
        for seed in range(args.max_seeds):
            t, meta = make(seed)
            write(f, arch, t, meta)
            code, result, stderr = run_bridge(cmd, "--file", f)
            if code == 1 and result and "warning" in result:
                ties = result["relu_near_ties"]
                print(f"skip  {kind} {tag} seed {seed}: float32 itself is off by {result['baseline_f32_max_rel_err']:.1e} "
                      f"at {result['baseline_f32_worst']} (ReLU near ties {ties['count']}, "
                      f"min margin {ties['min_margin_rel']:.1e})")
                skipped.append(f"{kind} {tag} seed {seed}")
                continue
            break
        check(f"{kind} {tag} seed {seed}", code, result, stderr, 0)
        perturb(t, target)
        write(f, arch, t, meta)
        check(f"{kind} {tag} seed {seed} (1% on {target})", *run_bridge(cmd, "--file", f), 1)
        return t, meta, f

    for mname in models:
        for inp in inputs:
            shape = parse_input(inp)
            arch = architecture(mname, shape)
            tag = f"{mname} {inp}"
            pre = mname.startswith("preresnet")

            t, meta, f = clean_and_perturbed(
                "parity", tag, lambda seed: fixture_parity(arch, shape, 8, seed),
                "ours.grad." + ("layer1.0.conv1.weight" if pre else "conv2.weight"), "parity")
            if not arch["model"]["affine"]:
                t2 = dict(t)
                t2["ours.grad.fc.weight"] = torch.zeros(10, 64 if pre else 128)
                write(f, arch, t2, meta)
                check(f"parity {tag} (grad for frozen fc)", *run_bridge("parity", "--file", f), 2)
            else:
                t2 = dict(t)
                bias = "ours.grad." + ("bn.bias" if pre else "bn3.bias")
                del t2[bias]
                write(f, arch, t2, meta)
                check(f"parity {tag} (missing {bias})", *run_bridge("parity", "--file", f), 2)

            for mom in (0.9, 0.0):
                clean_and_perturbed(
                    f"sgd-check mom={mom}", tag,
                    lambda seed: fixture_sgd(arch, shape, 8, seed, lr=args.lr, wd=5e-4, momentum=mom, steps=5),
                    "final." + ("layer2.0.conv1.weight" if pre else "conv3.weight"), "sgd-check")

            clean_and_perturbed("logits", tag, lambda seed: fixture_logits(arch, shape, 8, seed),
                                "ours.logits", "logits")

            f = os.path.join(tmp, "checkpoint.safetensors")
            t, meta = fixture_checkpoint(arch, 0)
            write(f, arch, t, meta)
            check(f"load {tag}", *run_bridge("load", "--file", f), 0)

    # A checkpoint of another model is caught by load.
    f = os.path.join(tmp, "wrong.safetensors")
    t, _ = fixture_checkpoint(architecture("preresnet8", (3, 32, 32)), 0)
    write(f, architecture("preresnet14", (3, 32, 32)), t, {})
    check("load preresnet8 weights under a preresnet14 arch", *run_bridge("load", "--file", f), 2)
    with open(f, "wb") as fh:
        fh.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    check("parity on a corrupt file", *run_bridge("parity", "--file", f), 2)

    print("\nScale invariance (float64, train mode, all conv weights x2 jointly):", flush=True)
    si = {}
    for name, eps in (("preresnet20-si", None), ("preresnet20-si", 1e-30), ("preresnet20", None)):
        r = scale_invariance(name, eps)
        si[f"{name} bnEps={r['bnEps']:g}"] = r
        print(f"  {name:16s} bnEps={r['bnEps']:<6g} L={r['L(W)']:.6f}  rel|L(2W)-L(W)|={r['rel|L(2W)-L(W)|']:.2e}  "
              f"one conv x2: {r['rel|L(2 w_layer1.0.conv2)-L(W)|']:.2e}  cos(grad,W)={r['cos(grad,W)']:.1e}")
    if si["preresnet20-si bnEps=1e-30"]["rel|L(2W)-L(W)|"] > 1e-12:
        failures.append("scale invariance")
    print(f"\n{len(rows) - len([r for r in rows if r[1] != r[2]])}/{len(rows)} bridge checks passed, "
          f"{len(skipped)} ill-conditioned seeds skipped (sgd lr {args.lr})")
    if args.keep:
        print(f"fixtures kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("FAILED: " + ", ".join(failures))
        return 1
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="kind", required=True)
    for kind in ("parity", "sgd", "logits", "checkpoint"):
        s = sub.add_parser(kind, help=f"write a {kind} fixture (PyTorch float32 as 'ours')")
        s.add_argument("--model", required=True, help="a preset (preresnet8, cnn4-gn-si, ...), as src/nn/arch.ts names them")
        s.add_argument("--input", default="3x32x32", help="C x H x W")
        s.add_argument("--batch", type=int, default=8)
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--out", required=True)
        s.add_argument("--perturb", help="multiply this tensor by 1.01 (e.g. ours.grad.fc.bias)")
        if kind == "sgd":
            s.add_argument("--lr", type=float, default=0.1)
            s.add_argument("--wd", type=float, default=5e-4)
            s.add_argument("--momentum", type=float, default=0.9)
            s.add_argument("--steps", type=int, default=5)
    s = sub.add_parser("selftest", help="generate fixtures for 3 models x 2 inputs and run every bridge subcommand")
    s.add_argument("--lr", type=float, default=0.01, help="SGD learning rate of the sgd-check fixtures")
    s.add_argument("--keep", action="store_true", help="keep the fixture directory")
    s.add_argument("--max-seeds", type=int, default=12, help="seeds to try for a well-conditioned fixture")
    args = p.parse_args()
    if args.kind == "selftest":
        return selftest(args)
    shape = parse_input(args.input)
    arch = architecture(args.model, shape)
    if args.kind == "parity":
        t, meta = fixture_parity(arch, shape, args.batch, args.seed)
    elif args.kind == "sgd":
        t, meta = fixture_sgd(arch, shape, args.batch, args.seed, args.lr, args.wd, args.momentum, args.steps)
    elif args.kind == "logits":
        t, meta = fixture_logits(arch, shape, args.batch, args.seed)
    else:
        t, meta = fixture_checkpoint(arch, args.seed)
    if args.perturb:
        perturb(t, args.perturb)
    write(args.out, arch, t, meta)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
