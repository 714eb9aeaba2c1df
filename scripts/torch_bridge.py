#!/usr/bin/python3
"""The PyTorch referee of intrinsic-lr.

The TypeScript side builds ONNX training programs for normalized ResNets and CNNs; this script
rebuilds the *same* network in PyTorch from the architecture that travels in every safetensors file
(`__metadata__["architecture"]`: the forward pass as a list of torch.nn modules and functions,
recorded by src/nn/layers.ts), computes the reference in float64, and compares. PyTorch is the referee
because ORT's CPU Conv refuses float64, so our own float64 check is impossible there.

Run with Debian's interpreter, which has torch:  /usr/bin/python3 scripts/torch_bridge.py --help

Subcommands (each prints exactly one JSON object on stdout):
  parity     one forward/backward in train mode: logits, loss, every trainable gradient
  sgd-check  K steps of an optimizer (torch.optim.SGD, AdamW, Adam): params, BN running stats, state
  logits     eval-mode logits (running statistics) of a checkpoint
  bench      float32 training-step timing of the same architecture on random data
  load       strict load_state_dict of a checkpoint: proves it loads in PyTorch
  swa-eval   average snapshots (AveragedModel), update_bn, evaluate: the referee of `ilr swa`

Exit status: 0 all errors within tolerance (or success), 1 some relative error above tolerance,
2 bad input (message on stderr), 3 an unexpected internal error (traceback on stderr).

Relative error of a tensor: ||ours - ref||_2 / max(||ref||_2, 1e-30), computed in float64.
"""

import argparse
import gzip
import json
import math
import os
import resource
import statistics
import sys
import time
import traceback

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in scripts/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import SafetensorsError, read_safetensors  # noqa: E402
from user_module import UserModuleError, build_user_model, parse_torch_module  # noqa: E402


class BadInput(Exception):
    """The input files or arguments do not follow the contract: exit status 2."""


# ---------------------------------------------------------------------------------------------
# Architectures
# ---------------------------------------------------------------------------------------------

# The TypeScript side records its forward pass as data (`Architecture` in src/nn/layers.ts): a list
# of steps, each a torch.nn module applied to one numbered value, or a function of several. The
# twin is built from that list, so there is no second, hand-written model list to drift: a module is
# any torch.nn class, named as torch names it (Conv2d, BatchNorm2d, GroupNorm, LayerNorm, Linear).
FUNCTIONS = {"relu": lambda x: relu(x), "add": lambda a, b: a + b, "mean_hw": lambda x: x.mean(dim=(2, 3))}
ARCH_KEYS = {"model", "inChannels", "numClasses", "output", "steps"}
STEP_KEYS = {"call", "name", "args", "init", "frozen", "inputs", "output"}


def parse_architecture(arch):
    """Validates an architecture (dict or JSON text).

    Unknown keys, modules and functions are an error rather than silently ignored: a referee that
    ignores what the TypeScript side honours would compare two different networks.
    """
    if isinstance(arch, str):
        try:
            arch = json.loads(arch)
        except json.JSONDecodeError as e:
            raise BadInput(f"architecture is not valid JSON ({e}): {arch[:200]!r}")
    if not isinstance(arch, dict) or set(arch) != ARCH_KEYS:
        got = sorted(arch) if isinstance(arch, dict) else type(arch).__name__
        raise BadInput(f"architecture must be a JSON object with keys {sorted(ARCH_KEYS)}, got {got} "
                       f"(write it with the current TypeScript side: src/nn/model.ts modelLayout)")
    for key in ("inChannels", "numClasses"):
        if not isinstance(arch[key], int) or arch[key] < 1:
            raise BadInput(f"architecture: {key} must be a positive integer, got {arch[key]!r}")
    if imported(arch):
        return arch  # its steps are ONNX nodes; its twin is the user's module (user_module.py)
    made = {0}
    for i, step in enumerate(arch["steps"]):
        where = f"architecture step {i} ({step.get('name') or step.get('call')})" if isinstance(step, dict) else f"architecture step {i}"
        if not isinstance(step, dict) or not set(step) <= STEP_KEYS or not {"call", "inputs", "output"} <= set(step):
            raise BadInput(f"{where}: a step has call, inputs, output and for modules name, args, init (optional frozen)")
        call, module = step["call"], "name" in step
        if module and module_class(call) is None:
            raise BadInput(f"{where}: {call!r} is not a torch.nn module (torch {torch.__version__})")
        if not module and call not in FUNCTIONS:
            raise BadInput(f"{where}: unknown function {call!r} (known: {', '.join(FUNCTIONS)})")
        unknown = [v for v in step["inputs"] if v not in made]
        if unknown:
            raise BadInput(f"{where}: reads values {unknown} that no earlier step made")
        made.add(step["output"])
    if arch["output"] not in made:
        raise BadInput(f"architecture: output {arch['output']!r} is made by no step")
    return arch


def module_class(name):
    cls = getattr(nn, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, nn.Module) else None


class Twin(nn.Module):
    """The network of an architecture. Modules sit at their dotted state_dict prefix
    (`layer1.0.conv1`), so state_dict keys are those of the TypeScript side."""

    def __init__(self, arch):
        super().__init__()
        self.steps, self.output = arch["steps"], arch["output"]
        for step in self.steps:
            if "name" in step:
                try:
                    module = module_class(step["call"])(**step["args"])
                except TypeError as e:
                    raise BadInput(f"architecture step {step['name']}: torch.nn.{step['call']}(**{step['args']}) fails: {e}")
                self._place(step["name"], module)

    def _place(self, dotted, module):
        parent = self
        *path, leaf = dotted.split(".")
        for part in path:
            if part not in parent._modules:
                parent.add_module(part, nn.Module())
            parent = parent._modules[part]
        parent.add_module(leaf, module)

    def forward(self, x):
        values = {0: x}
        for step in self.steps:
            inputs = [values[v] for v in step["inputs"]]
            fn = self.get_submodule(step["name"]) if "name" in step else FUNCTIONS[step["call"]]
            values[step["output"]] = fn(*inputs)
        return values[self.output]


def imported(arch):
    """An architecture of a network imported from ONNX (src/nn/imported.ts)."""
    return isinstance(arch.get("model"), dict) and arch["model"].get("arch") == "onnx"


def build_model(arch):
    """The PyTorch module of an architecture (dict or JSON text), float32, initialised with the
    distributions the TypeScript side draws from (not its values: those come from a file).

    With `frozen` (frozenFc) a module's parameters have requires_grad=False: they are neither
    updated nor given a gradient. An imported model's module is the user's own (read_file attaches
    its reference from the file's `torch_module` metadata).
    """
    if isinstance(arch, dict) and imported(arch):
        if "torch_module" not in arch:
            raise BadInput(f"{arch['model']['file']} is an imported model: its PyTorch module must be named (--torch MODULE:FACTORY)")
        try:
            model = build_user_model(arch["torch_module"])
        except UserModuleError as e:
            raise BadInput(str(e))
        for module in model.modules():
            if isinstance(module, (nn.ReLU, nn.Hardtanh)):  # nn.ReLU6 is a Hardtanh
                module.register_forward_pre_hook(watch_kinks)
        return model
    arch = parse_architecture(arch)
    model = Twin(arch)
    with torch.no_grad():
        for step in arch["steps"]:
            if "name" not in step:
                continue
            module = model.get_submodule(step["name"])
            for pname, init in step.get("init", {}).items():
                p = getattr(module, pname)
                if init["kind"] == "uniform":
                    p.uniform_(-init["bound"], init["bound"])
                else:
                    p.fill_(init["value"])
                if step.get("frozen"):
                    p.requires_grad_(False)
    return model


class ReluWatch:
    """Counts ReLU inputs within a hair of zero while active (a context manager).

    Why: a float32 implementation and the float64 reference can put such a value on different
    sides of the kink, and one flipped ReLU moves every gradient below it by a visible amount
    (0.5% for one element out of 5e5 in a PreResNet-8 at batch 8). When a check fails, this count
    says whether the input sits on a tie (pick another seed) or the implementation is wrong.
    """

    active = None
    REL = 1e-6  # |v| <= REL * rms(v) of that ReLU's input counts as a near tie

    def __init__(self):
        self.count = 0
        self.min_margin = math.inf  # smallest |v| / rms(v) seen

    def __enter__(self):
        ReluWatch.active = self
        return self

    def __exit__(self, *exc):
        ReluWatch.active = None

    def see(self, x):
        with torch.no_grad():
            rms = x.detach().double().pow(2).mean().sqrt().item()
            if rms == 0:
                return
            margin = x.detach().abs().double() / rms
            self.count += int((margin <= self.REL).sum())
            self.min_margin = min(self.min_margin, margin.min().item())

    def report(self):
        return {"count": self.count, "threshold_rel": self.REL,
                "min_margin_rel": json_number(self.min_margin) if self.min_margin != math.inf else None}


def watch_kinks(module, inputs):
    """A user module's ReLU, ReLU6 or Hardtanh: its inputs near a kink count as ReLU near ties."""
    if ReluWatch.active is None:
        return
    x = inputs[0]
    if isinstance(module, nn.Hardtanh):
        ReluWatch.active.see(x - module.min_val)
        ReluWatch.active.see(x - module.max_val)
    else:
        ReluWatch.active.see(x)


def relu(x):
    if ReluWatch.active is not None:
        ReluWatch.active.see(x)
    return F.relu(x)




def trainable_names(model):
    return [k for k, p in model.named_parameters() if p.requires_grad]


def frozen_names(model):
    return [k for k, p in model.named_parameters() if not p.requires_grad]


def running_stat_names(model):
    return [k for k, _ in model.named_buffers() if k.endswith(("running_mean", "running_var"))]


# ---------------------------------------------------------------------------------------------
# Reading inputs
# ---------------------------------------------------------------------------------------------

def read_file(path):
    """Reads a safetensors file and its architecture; every failure becomes BadInput."""
    try:
        tensors, meta = read_safetensors(path)
    except SafetensorsError as e:
        raise BadInput(str(e))
    if "architecture" not in meta:
        raise BadInput(f"{path}: __metadata__ has no 'architecture' (the JSON forward pass the TypeScript side "
                       f"records); metadata keys present: {sorted(meta)}. Files written before it existed need rewriting.")
    try:
        arch = parse_architecture(meta["architecture"])
        if "torch_module" in meta:
            arch = dict(arch, torch_module=parse_torch_module(meta["torch_module"]))
    except (BadInput, UserModuleError) as e:
        raise BadInput(f"{path}: {e}")
    return tensors, meta, arch


def load_state(model, state, path, require_buffers):
    """Copies a state dict into the model with clear errors.

    Unknown and missing keys are named, shapes are checked. BN buffers may be absent when
    require_buffers is False (train-mode checks: they keep their defaults, mean 0, var 1,
    num_batches_tracked 0); `num_batches_tracked` is never required.
    """
    expected = model.state_dict()
    unknown = sorted(set(state) - set(expected))
    missing = sorted(set(expected) - set(state))
    if not require_buffers:
        missing = [k for k in missing if k in dict(model.named_parameters())]
    else:
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing keys {missing}")
        if unknown:
            parts.append(f"unexpected keys {unknown}")
        raise BadInput(f"{path}: state dict does not match the model in its metadata: "
                       f"{'; '.join(parts)} (is this a checkpoint of another model?)")
    for k, t in state.items():
        if tuple(t.shape) != tuple(expected[k].shape):
            raise BadInput(f"{path}: {k} has shape {list(t.shape)}, the model expects {list(expected[k].shape)}")
        if expected[k].is_floating_point() and not t.is_floating_point():
            raise BadInput(f"{path}: {k} has dtype {t.dtype}, expected a floating-point tensor")
    with torch.no_grad():
        own = dict(model.named_parameters())
        own.update(dict(model.named_buffers()))
        for k, t in state.items():
            own[k].copy_(t)


def get_tensor(tensors, name, path, floating=True):
    if name not in tensors:
        raise BadInput(f"{path}: tensor {name!r} is missing")
    t = tensors[name]
    if floating and not t.is_floating_point():
        raise BadInput(f"{path}: tensor {name!r} has dtype {t.dtype}, expected float32 or float64")
    return t


def get_batch(tensors, prefix, path, arch):
    """Returns (input float64 [N,C,H,W], target int64 [N]), validated against the architecture."""
    x = get_tensor(tensors, prefix + "input", path)
    y = get_tensor(tensors, prefix + "target", path, floating=False)
    if x.dim() != 4:
        raise BadInput(f"{path}: {prefix}input must be [N,C,H,W], got shape {list(x.shape)}")
    if x.shape[1] != arch["inChannels"]:
        raise BadInput(f"{path}: {prefix}input has {x.shape[1]} channels, the model has inChannels={arch['inChannels']}")
    if min(x.shape[2], x.shape[3]) < 8:
        raise BadInput(f"{path}: {prefix}input is {x.shape[2]}x{x.shape[3]}; the models need at least 8x8")
    if y.dtype not in (torch.int64, torch.int32) or list(y.shape) != [x.shape[0]]:
        raise BadInput(f"{path}: {prefix}target must be int64 of shape [{x.shape[0]}], "
                       f"got {y.dtype} {list(y.shape)}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= arch["numClasses"]):
        raise BadInput(f"{path}: {prefix}target has labels outside 0..{arch['numClasses'] - 1}")
    return x.double(), y.long()


def split_prefix(tensors, prefix):
    n = len(prefix)
    return {k[n:]: v for k, v in tensors.items() if k.startswith(prefix)}


# ---------------------------------------------------------------------------------------------
# Comparing
# ---------------------------------------------------------------------------------------------

def rel_err(ours, ref, name, path):
    """||ours - ref|| / max(||ref||, 1e-30) in float64. A shape mismatch is bad input."""
    ref = ref.detach().double()
    ours = ours.detach().double()
    if ours.numel() == 1 and ref.numel() == 1:  # loss: [] or [1]
        ours, ref = ours.reshape(()), ref.reshape(())
    if ours.shape != ref.shape:
        raise BadInput(f"{path}: {name} has shape {list(ours.shape)}, the reference has {list(ref.shape)}")
    num = torch.linalg.vector_norm(ours - ref).item()
    den = max(torch.linalg.vector_norm(ref).item(), 1e-30)
    return num / den


def json_number(x):
    """JSON has no NaN/Infinity: report them as strings (and they never pass a tolerance)."""
    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    return x


def verdict(arch, errors, tol, baseline=None, ties=None, extra=None):
    """The common result object; ok is False if any error is above tol or not finite.

    baseline: the same errors for PyTorch's own float32 computation against the float64
    reference — the rounding floor a float32 implementation cannot be expected to beat. When that
    floor is itself above tol, the check is ill-conditioned (a ReLU tie, or steps that amplify
    rounding), and the result says so in `warning` instead of leaving a bare failure.
    """
    values = list(errors.values())
    finite = all(math.isfinite(v) for v in values)
    max_err = max(values) if values else 0.0
    ok = finite and max_err <= tol
    result = {"model": arch["model"], "max_rel_err": json_number(max_err if finite else float("nan")),
              "tol": tol, "ok": ok}
    result["worst"] = max(errors, key=lambda k: errors[k] if math.isfinite(errors[k]) else math.inf) if errors else None
    if baseline is not None:
        bmax = max(baseline.values()) if baseline else 0.0
        result["baseline_f32_max_rel_err"] = json_number(bmax)
        result["baseline_f32_worst"] = max(baseline, key=baseline.get) if baseline else None
        if bmax > tol:
            result["warning"] = (
                f"PyTorch's own float32 computation differs from the float64 reference by {bmax:.2e} "
                f"(> tol {tol:g}) at {result['baseline_f32_worst']}: this input amplifies float32 rounding "
                f"(ReLU near ties: {ties['count'] if ties else '?'}; or large, chaotic steps). Use another seed, "
                f"a smaller lr or fewer steps before blaming the implementation.")
    if ties is not None:
        result["relu_near_ties"] = ties
        if not ok and "warning" not in result and ties["count"] > 0:
            result["warning"] = (
                f"{ties['count']} ReLU inputs lie within {ties['threshold_rel']:g} x rms of zero in the float64 "
                f"reference (smallest {ties['min_margin_rel']:.1e}); a float32 implementation may put one on the "
                f"other side of the kink, which moves the gradients below it by ~1e-3..1e-2. Retry with another "
                f"seed before blaming the implementation; a failure with no near ties is real.")
    if extra:
        result.update(extra)
    result["errors"] = {k: json_number(v) for k, v in errors.items()}
    if baseline is not None:
        result["baseline_f32_errors"] = {k: json_number(v) for k, v in baseline.items()}
    return result


# A gradient whose float64 norm is below this fraction of the largest one's is zero in exact
# arithmetic: a bias in front of a train-mode BatchNorm (the batch mean takes it out again), as
# VGG's and MobileNet's convs have them. Error relative to it would be rounding over rounding
# (1e8 for PyTorch's own float32), so such a gradient's error is taken relative to the largest.
ZERO_GRADIENT = 1e-9


def compare(ours, ref64, ref32, path, prefix=""):
    """Relative errors of ours and of the float32 reference, both against float64, key by key
    (a vanishing gradient's relative to the largest gradient, see ZERO_GRADIENT)."""
    grad_norms = [torch.linalg.vector_norm(ref64[k].double()).item() for k in ours if k.startswith("grad.")]
    largest = max(grad_norms, default=0.0)

    def err(a, k, name):
        ref = ref64[k]
        if k.startswith("grad.") and torch.linalg.vector_norm(ref.double()).item() < ZERO_GRADIENT * largest:
            return rel_err(a, ref, name, path) * max(torch.linalg.vector_norm(ref.double()).item(), 1e-30) / largest
        return rel_err(a, ref, name, path)

    errors = {k: err(ours[k], k, prefix + k) for k in ours}
    baseline = {k: err(ref32[k], k, "float32 " + k) for k in ours}
    return errors, baseline


# ---------------------------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------------------------

def parity_reference(arch, state, x, y, dtype, path):
    """One train-mode forward/backward in `dtype`: {"logits", "loss", "grad.<p>", "buffer.<stat>"}."""
    model = build_model(arch).to(dtype)
    load_state(model, state, path, require_buffers=False)
    model.train()
    logits = model(x.to(dtype))
    loss = F.cross_entropy(logits, y)
    loss.backward()
    out = {"logits": logits.detach(), "loss": loss.detach()}
    params = dict(model.named_parameters())
    out.update({"grad." + k: params[k].grad for k in trainable_names(model)})
    buffers = dict(model.named_buffers())
    out.update({"buffer." + k: buffers[k] for k in running_stat_names(model)})
    return out


def cmd_parity(args):
    tensors, meta, arch = read_file(args.file)
    path = args.file
    model = build_model(arch)
    state = {k: v for k, v in tensors.items() if not k.startswith("ours.") and k not in ("input", "target")}
    load_state(model, state, path, require_buffers=False)  # validates names and shapes up front
    x, y = get_batch(tensors, "", path, arch)

    ours = split_prefix(tensors, "ours.")
    ours_grads = split_prefix(ours, "grad.")
    ours_buffers = split_prefix(ours, "buffer.")
    known = {"logits", "loss"} | {"grad." + k for k in ours_grads} | {"buffer." + k for k in ours_buffers}
    stray = sorted(set(ours) - known)
    if stray:
        raise BadInput(f"{path}: unknown result tensors {['ours.' + k for k in stray]} "
                       f"(expected ours.logits, ours.loss, ours.grad.<param>, optionally ours.buffer.<running stat>)")
    for k in ("logits", "loss"):
        get_tensor(tensors, "ours." + k, path)
    trainable, frozen = trainable_names(model), frozen_names(model)
    missing = [k for k in trainable if k not in ours_grads]
    given_frozen = [k for k in ours_grads if k in frozen]
    unknown = [k for k in ours_grads if k not in trainable and k not in frozen]
    if missing or given_frozen or unknown:
        parts = []
        if missing:
            parts.append(f"no gradient for trainable parameters {missing}")
        if given_frozen:
            parts.append(f"gradient given for frozen parameters {given_frozen}")
        if unknown:
            parts.append(f"gradient for unknown names {unknown}")
        raise BadInput(f"{path}: {'; '.join(parts)}")
    bad_buffers = sorted(set(ours_buffers) - set(running_stat_names(model)))
    if bad_buffers:
        raise BadInput(f"{path}: ours.buffer.* names that are not BN running stats: {bad_buffers}")

    with ReluWatch() as ties:
        ref64 = parity_reference(arch, state, x, y, torch.float64, path)
    ref32 = parity_reference(arch, state, x, y, torch.float32, path)
    wanted = {"logits": ours["logits"], "loss": ours["loss"]}
    wanted.update({"grad." + k: ours_grads[k] for k in trainable})
    wanted.update({"buffer." + k: ours_buffers[k] for k in sorted(ours_buffers)})
    errors, baseline = compare(wanted, ref64, ref32, path, "ours.")
    return verdict(arch, errors, args.tol, baseline, ties.report(),
                   {"loss_ref": ref64["loss"].item(), "batch": x.shape[0]})


# The optimizers of src/programs/optimizers.ts and their torch classes. sgdw (decoupled WD) has
# none: torch.optim.SGD without weight decay, after w <- w*(1 - lr*wd), the order AdamW uses.
OPTIMIZER_SLOTS = {"sgd": ["momentum_buffer"], "sgdw": ["momentum_buffer"],
                   "adamw": ["step", "exp_avg", "exp_avg_sq"], "adam": ["step", "exp_avg", "exp_avg_sq"]}
OPTIM_KEYS = {"optimizer", "lr", "wd", "momentum", "nesterov", "betas", "eps", "steps"}


def parse_optim(meta, path):
    """The `optim` metadata: {"optimizer", "lr", "wd", "momentum", "nesterov", "betas", "eps", "steps"};
    lr and wd may also be lists of `steps` numbers (a per-step schedule, e.g. the ExpLR check)."""
    if "optim" not in meta:
        raise BadInput(f"{path}: __metadata__ has no 'optim' (JSON {{optimizer, lr, wd, momentum, steps, ...}})")
    try:
        o = json.loads(meta["optim"])
    except json.JSONDecodeError as e:
        raise BadInput(f"{path}: __metadata__['optim'] is not JSON: {e}")
    if not isinstance(o, dict):
        raise BadInput(f"{path}: __metadata__['optim'] must be a JSON object")
    unknown = set(o) - OPTIM_KEYS
    if unknown:
        raise BadInput(f"{path}: optim has unknown keys {sorted(unknown)} (known: {', '.join(sorted(OPTIM_KEYS))})")
    steps = o.get("steps")
    if not isinstance(steps, int) or steps < 1:
        raise BadInput(f"{path}: optim.steps must be a positive integer, got {steps!r}")
    out = {"steps": steps, "optimizer": o.get("optimizer", "sgd"), "nesterov": bool(o.get("nesterov", False))}
    if out["optimizer"] not in OPTIMIZER_SLOTS:
        raise BadInput(f"{path}: optim.optimizer {out['optimizer']!r} is not one of {', '.join(OPTIMIZER_SLOTS)}")
    for key, default in (("lr", None), ("wd", 0.0), ("momentum", 0.0), ("eps", 1e-8)):
        v = o.get(key, default)
        if v is None:
            raise BadInput(f"{path}: optim.{key} is required")
        if key in ("lr", "wd") and isinstance(v, list):
            if len(v) != steps or not all(isinstance(e, (int, float)) for e in v):
                raise BadInput(f"{path}: optim.{key} as a list must hold {steps} numbers")
            out[key] = [float(e) for e in v]
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = [float(v)] * steps if key in ("lr", "wd") else float(v)
        else:
            raise BadInput(f"{path}: optim.{key} must be a number, got {v!r}")
    betas = o.get("betas", [0.9, 0.999])
    if not (isinstance(betas, list) and len(betas) == 2 and all(isinstance(b, (int, float)) for b in betas)):
        raise BadInput(f"{path}: optim.betas must be two numbers, got {betas!r}")
    out["betas"] = (float(betas[0]), float(betas[1]))
    if not 0 <= out["momentum"] < 1:
        raise BadInput(f"{path}: optim.momentum must be in [0, 1), got {out['momentum']}")
    return out


def optimizer_slots(o):
    """The state slots the run keeps per trainable parameter (none for SGD without momentum)."""
    if o["optimizer"] in ("sgd", "sgdw") and o["momentum"] == 0:
        return []
    return OPTIMIZER_SLOTS[o["optimizer"]]


def make_optimizer(params, o):
    name, lr, wd = o["optimizer"], o["lr"][0], o["wd"][0]
    if name in ("sgd", "sgdw"):
        return torch.optim.SGD(params, lr=lr, momentum=o["momentum"], dampening=0, nesterov=o["nesterov"],
                               weight_decay=wd if name == "sgd" else 0.0)
    cls = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    return cls(params, lr=lr, betas=o["betas"], eps=o["eps"], weight_decay=wd)


def optim_reference(arch, init_state, init_slots, batches, o, dtype, path):
    """Replays the run in `dtype` with the optimizer's torch class. Returns {"<key>": state
    tensor, "optimizer.<slot>.<p>": its state, "losses": [K]}."""
    model = build_model(arch).to(dtype)
    load_state(model, init_state, path, require_buffers=False)
    params = dict(model.named_parameters())
    trainable = trainable_names(model)
    opt = make_optimizer([params[k] for k in trainable], o)
    for (slot, k), v in init_slots.items():
        # Preset state (zeros at a run's start are the same as torch's fresh state).
        opt.state[params[k]][slot] = v.detach().to(dtype).clone()
    model.train()
    losses = []
    for k, (x, y) in enumerate(batches):
        decoupled_sgd = o["optimizer"] == "sgdw"
        for g in opt.param_groups:
            g["lr"] = o["lr"][k]
            g["weight_decay"] = 0.0 if decoupled_sgd else o["wd"][k]
        opt.zero_grad()
        loss = F.cross_entropy(model(x.to(dtype)), y)
        loss.backward()
        if decoupled_sgd:
            with torch.no_grad():
                for name in trainable:
                    params[name].mul_(1 - o["lr"][k] * o["wd"][k])
        opt.step()
        losses.append(loss.item())
    out = {k: v.detach() for k, v in model.state_dict().items()}
    for slot in optimizer_slots(o):
        out.update({f"optimizer.{slot}.{k}": torch.as_tensor(opt.state[params[k]][slot]).to(dtype) for k in trainable})
    out["losses"] = torch.tensor(losses, dtype=torch.float64)
    return out


def split_slots(group):
    """{(slot, param): tensor} of the `optimizer.<slot>.<param>` entries of a file's init.* or final.*."""
    out = {}
    for k, v in split_prefix(group, "optimizer.").items():
        slot, _, param = k.partition(".")
        out[(slot, param)] = v
    return out


def cmd_sgd_check(args):
    tensors, meta, arch = read_file(args.file)
    path = args.file
    o = parse_optim(meta, path)
    K = o["steps"]

    model = build_model(arch)
    init = split_prefix(tensors, "init.")
    init_slots = split_slots(init)
    init_state = {k: v for k, v in init.items() if not k.startswith("optimizer.")}
    load_state(model, init_state, path + " (init.*)", require_buffers=False)

    final = split_prefix(tensors, "final.")
    final_slots = split_slots(final)
    final_state = {k: v for k, v in final.items() if not k.startswith("optimizer.")}

    # Names and presence, before any computation.
    names = set(k for k in tensors if k.startswith(("init.", "final.")))
    batches = []
    for k in range(K):
        batches.append(get_batch(tensors, f"batch.{k}.", path, arch))
        names |= {f"batch.{k}.input", f"batch.{k}.target"}
    stray = sorted(set(tensors) - names - {"ours.losses"})
    if stray:
        raise BadInput(f"{path}: unexpected tensors {stray} (steps={K}: batches 0..{K - 1}; "
                       f"expected init.*, batch.<k>.input/target, final.*, optionally ours.losses)")
    trainable, frozen = trainable_names(model), frozen_names(model)
    stats = running_stat_names(model)
    nbt = [k for k, _ in model.named_buffers() if k.endswith("num_batches_tracked")]
    missing = [k for k in trainable + stats if k not in final_state]
    unknown = sorted(set(final_state) - set(trainable) - set(frozen) - set(stats) - set(nbt))
    if missing or unknown:
        raise BadInput(f"{path}: final.* must hold every trainable parameter and running stat: "
                       f"missing {missing}, unknown {unknown}")
    params = dict(model.named_parameters())
    slots = optimizer_slots(o)
    expected = {(slot, k) for slot in slots for k in trainable}
    for group, what in ((init_slots, "init"), (final_slots, "final")):
        wrong = sorted(f"{what}.optimizer.{s}.{k}" for s, k in set(group) - expected)
        if wrong:
            raise BadInput(f"{path}: {wrong} are not state of {o['optimizer']} (momentum {o['momentum']}) "
                           f"for a trainable parameter; its slots are {slots or 'none'}")
        for (slot, k), v in group.items():
            want = [] if slot == "step" else list(params[k].shape)
            if list(v.shape) != want:
                raise BadInput(f"{path}: {what}.optimizer.{slot}.{k} has shape {list(v.shape)}, expected {want}")
    if set(final_slots) != expected:
        raise BadInput(f"{path}: final.optimizer.* lacks {sorted(f'{s}.{k}' for s, k in expected - set(final_slots))[:5]}")
    if init_slots and set(init_slots) != expected:
        raise BadInput(f"{path}: init.optimizer.* must cover every slot of every trainable parameter or none")

    with ReluWatch() as ties:
        ref64 = optim_reference(arch, init_state, init_slots, batches, o, torch.float64, path)
    ref32 = optim_reference(arch, init_state, init_slots, batches, o, torch.float32, path)

    wanted = {}
    for k in trainable + [k for k in frozen if k in final_state] + stats + [k for k in nbt if k in final_state]:
        wanted[k] = final_state[k]
    wanted.update({f"optimizer.{s}.{k}": final_slots[(s, k)] for s, k in sorted(expected)})
    if "ours.losses" in tensors:
        wanted["losses"] = tensors["ours.losses"]
    errors, baseline = compare(wanted, ref64, ref32, path)
    uniform = lambda v: v[0] if len(set(v)) == 1 else v  # noqa: E731
    extra = {"optim": {**o, "lr": uniform(o["lr"]), "wd": uniform(o["wd"])}, "losses_ref": ref64["losses"].tolist()}
    return verdict(arch, errors, args.tol, baseline, ties.report(), extra)


def cmd_logits(args):
    tensors, meta, arch = read_file(args.file)
    path = args.file
    state = {k: v for k, v in tensors.items() if not k.startswith("ours.") and k not in ("input", "target")}
    stray = sorted(k for k in tensors if k.startswith("ours.") and k != "ours.logits")
    if stray:
        raise BadInput(f"{path}: unexpected result tensors {stray} (only ours.logits)")
    x = get_tensor(tensors, "input", path)
    if x.dim() != 4 or x.shape[1] != arch["inChannels"]:
        raise BadInput(f"{path}: input must be [N,{arch['inChannels']},H,W], got {list(x.shape)}")
    ours = get_tensor(tensors, "ours.logits", path)
    refs = {}
    for dtype in (torch.float64, torch.float32):
        model = build_model(arch).to(dtype)
        # Eval mode uses the running statistics, so they must be in the file.
        load_state(model, state, path, require_buffers=True)
        model.eval()
        with torch.no_grad(), ReluWatch() as ties:
            refs[dtype] = model(x.to(dtype))
        if dtype == torch.float64:
            ties64 = ties
    errors = {"logits": rel_err(ours, refs[torch.float64], "ours.logits", path)}
    baseline = {"logits": rel_err(refs[torch.float32], refs[torch.float64], "float32 logits", path)}
    # ours against PyTorch's own float32 eval: how close two float32 implementations come.
    extra = {"logits_vs_torch_f32": json_number(rel_err(ours, refs[torch.float32], "ours.logits", path)),
             "batch": x.shape[0]}
    return verdict(arch, errors, args.tol, baseline, ties64.report(), extra)


def parse_model_arg(text):
    """--model: an architecture as JSON text or a .json file (`ilr architecture --model NAME` prints one)."""
    t = text.strip()
    if t.startswith("{"):
        return parse_architecture(t)
    if os.path.isfile(t):
        with open(t, encoding="utf-8") as f:
            return parse_architecture(f.read())
    raise BadInput(f"--model {t!r} is neither JSON nor a file: pass the architecture, e.g. "
                   f"--model \"$(node dist/cli.js architecture --model {t})\"")


def cmd_bench(args):
    try:
        shape = [int(v) for v in args.input.lower().split("x")]
        assert len(shape) == 3 and all(v > 0 for v in shape)
    except (ValueError, AssertionError):
        raise BadInput(f"--input must look like 3x32x32 (C x H x W), got {args.input!r}")
    arch = parse_model_arg(args.model)
    if arch["inChannels"] != shape[0]:
        raise BadInput(f"--input has {shape[0]} channels, the model has inChannels={arch['inChannels']}")
    if args.steps < 1 or args.warmup < 0 or args.batch < 1 or args.threads < 1:
        raise BadInput("--steps, --batch and --threads must be positive, --warmup non-negative")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise BadInput("--device cuda: this torch has no CUDA device (torch.cuda.is_available() is False); use --device cpu or cuda-if-available")
    device = torch.device("cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = build_model(arch).to(device)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=args.lr, momentum=args.momentum, weight_decay=args.wd)
    # One fixed random batch, already on the device: data loading is not what is measured.
    x = torch.randn(args.batch, *shape).to(device)
    y = torch.randint(0, arch["numClasses"], (args.batch,)).to(device)
    # CUDA runs asynchronously: a step is timed to the end of its kernels.
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    for i in range(args.warmup + args.steps):
        sync()
        t0 = time.perf_counter()
        loss = train_step(model, opt, x, y)
        sync()
        dt = time.perf_counter() - t0
        if i >= args.warmup:
            times.append(dt)
    med = statistics.median(times)
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    result = {"model": arch["model"], "batch": args.batch, "input": shape, "steps": args.steps, "warmup": args.warmup,
              "images_per_s": args.batch / med, "ms_per_step": med * 1e3,
              "ms_per_step_min": min(times) * 1e3, "ms_per_step_max": max(times) * 1e3,
              "peak_rss_mb": rss_kb / 1024, "threads": torch.get_num_threads(),
              "torch": torch.__version__, "final_loss": loss.item(),
              "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}
    if args.profile:
        result["profile_ms"] = profile_steps(lambda: train_step(model, opt, x, y), args.steps)
    return result


def train_step(model, opt, x, y):
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


def profile_steps(step, steps):
    """Self CPU time per step of each aten op over `steps` more steps, in ms (torch.profiler).
    Self time, so that nested ops are not counted twice: convolution_backward holds both the
    input and the weight gradient, which oneDNN computes inside one call."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    return {e.key: e.self_cpu_time_total / 1e3 / steps for e in prof.key_averages() if e.self_cpu_time_total > 0}


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


def cmd_angular(args):
    """PyTorch's own run of the angular-update dynamics, as the decay figure measures them."""
    import glob
    found = {k: glob.glob(os.path.join(args.data_dir, f"{k}-idx*-ubyte*")) for k in ("train-images", "train-labels")}
    if not all(found.values()):
        raise BadInput(f"--data-dir {args.data_dir}: no train-images/train-labels IDX files (Fashion-MNIST or MNIST)")
    x = read_idx(found["train-images"][0]).reshape(-1, 1, 28, 28) / 255.0
    x = torch.tensor((x - x.mean()) / x.std(), dtype=torch.float32)
    y = torch.tensor(read_idx(found["train-labels"][0]).astype(np.int64))
    arch = parse_model_arg(args.model)
    if arch["inChannels"] != 1:
        raise BadInput(f"--model has inChannels={arch['inChannels']}; the IDX images have 1 channel")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = build_model(arch)  # with the TypeScript side's init distributions, fcScale included
    convs = [model.get_submodule(s["name"]).weight for s in arch["steps"] if s["call"] == "Conv2d"]
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=args.wd)
    perm, pos, windows, acc = torch.randperm(len(x)), 0, [], []
    for t in range(args.steps):
        if t == args.decay_step:
            for g in opt.param_groups:
                g[args.decay] /= 10
        if pos + args.batch > len(x):
            perm, pos = torch.randperm(len(x)), 0
        idx = perm[pos:pos + args.batch]
        pos += args.batch
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


# A training checkpoint (src/train/checkpoint.ts) keeps torch.optim.SGD's state next to the
# state_dict: optimizer.momentum_buffer.<param>. Other optimizer.* entries are not model state.
OPTIMIZER_PREFIX = "optimizer."
MOMENTUM_PREFIXES = ("optimizer.momentum_buffer.", "momentum.")


def split_checkpoint(tensors):
    """(state dict, momentum buffers by parameter, other optimizer.* keys) of a checkpoint."""
    momentum, other, state = {}, [], {}
    for k, v in tensors.items():
        prefix = next((p for p in MOMENTUM_PREFIXES if k.startswith(p)), None)
        if prefix:
            momentum[k[len(prefix):]] = v
        elif k.startswith(OPTIMIZER_PREFIX):
            other.append(k)
        else:
            state[k] = v
    return state, momentum, sorted(other)


def cmd_load(args):
    tensors, meta, arch = read_file(args.file)
    path = args.file
    model = build_model(arch)
    state, momentum, ignored = split_checkpoint(tensors)
    # Our own check first, for an error message that names the keys; then PyTorch's strict load.
    load_state(model, state, path, require_buffers=True)
    expected = model.state_dict()
    full = {k: state.get(k, expected[k]) for k in expected}
    try:
        model.load_state_dict({k: v.to(expected[k].dtype) for k, v in full.items()}, strict=True)
    except RuntimeError as e:
        raise BadInput(f"{path}: load_state_dict(strict=True) failed: {e}")
    params = dict(model.named_parameters())
    wrong = sorted(k for k in momentum if k not in params or not params[k].requires_grad)
    if wrong:
        raise BadInput(f"{path}: momentum buffers (optimizer.momentum_buffer.* or momentum.*) for names that "
                       f"are not trainable parameters: {wrong}")
    for k, v in momentum.items():
        if tuple(v.shape) != tuple(params[k].shape):
            raise BadInput(f"{path}: the momentum buffer of {k} has shape {list(v.shape)}, expected {list(params[k].shape)}")
    nonfinite = sorted(k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all())
    return {"model": arch["model"], "ok": True,
            "num_params": sum(p.numel() for p in model.parameters()),
            "num_trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "keys": list(expected),
            "defaulted": sorted(k for k in expected if k not in state),
            "momentum_buffers": sorted(momentum),
            "ignored_optimizer_keys": ignored,
            "non_finite": nonfinite,
            "metadata_keys": sorted(meta)}


def cmd_swa_eval(args):
    """SWA as PyTorch does it: AveragedModel over the snapshots, update_bn, eval-mode logits."""
    from torch.optim.swa_utils import AveragedModel, update_bn

    tensors, meta, arch = read_file(args.data)
    path = args.data
    if args.bn_batch < 1:
        raise BadInput("--bn-batch must be a positive integer")
    known = {"bn.input", "test.input", "test.target"}
    ours = split_prefix(tensors, "ours.")
    ours_state = split_prefix(ours, "state.")
    stray = sorted(k for k in tensors if k not in known and not k.startswith("ours."))
    stray += sorted("ours." + k for k in ours if k != "logits" and not k.startswith("state."))
    if stray:
        raise BadInput(f"{path}: unexpected tensors {stray} (expected bn.input, test.input, test.target, "
                       f"optionally ours.logits and ours.state.<state dict key>)")
    bn_input = get_tensor(tensors, "bn.input", path).double()
    x, y = get_batch(tensors, "test.", path, arch)
    if bn_input.dim() != 4 or bn_input.shape[1:] != x.shape[1:]:
        raise BadInput(f"{path}: bn.input must be [M,{','.join(map(str, x.shape[1:]))}], got {list(bn_input.shape)}")

    model = build_model(arch).double()
    averaged = AveragedModel(model)
    for f in args.snapshots:
        snap, _, snap_arch = read_file(f)
        if snap_arch != arch:
            raise BadInput(f"{f}: a snapshot of {json.dumps(snap_arch)}, but {path} describes {json.dumps(arch)}")
        state, _, _ = split_checkpoint(snap)
        load_state(model, state, f, require_buffers=False)
        averaged.update_parameters(model)
    loader = [bn_input[i:i + args.bn_batch] for i in range(0, bn_input.shape[0], args.bn_batch)]
    with torch.no_grad():
        update_bn(loader, averaged)
        averaged.eval()
        logits = averaged(x)
    loss = F.cross_entropy(logits, y).item()
    acc = (logits.argmax(1) == y).double().mean().item()
    ref_state = averaged.module.state_dict()

    errors = {}
    if "logits" in ours:
        errors["logits"] = rel_err(ours["logits"], logits, "ours.logits", path)
    for k, t in sorted(ours_state.items()):
        if k not in ref_state:
            raise BadInput(f"{path}: ours.state.{k} is not a state dict key of the model")
        errors["state." + k] = rel_err(t.double(), ref_state[k].double(), "ours.state." + k, path)
    extra = {"snapshots": len(args.snapshots), "bn_batches": len(loader), "bn_images": bn_input.shape[0],
             "test_images": x.shape[0], "test_loss": loss, "test_acc": acc,
             "num_batches_tracked": sorted({int(v) for k, v in ref_state.items() if k.endswith("num_batches_tracked")})}
    if "logits" in ours:
        extra["ours_test_acc"] = (ours["logits"].argmax(1) == y).double().mean().item()
    return verdict(arch, errors, args.tol, extra=extra)


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

FORMAT_HELP = """
File contract (safetensors; the architecture as JSON text in __metadata__["architecture"], the TS model
spec, reported back as "model", in __metadata__["model"]):
  parity:    <state dict keys> (float32; BN buffers optional), input [N,C,H,W] f32, target [N] i64,
             ours.logits [N,classes], ours.loss [] or [1], ours.grad.<param> for every trainable
             parameter (none for frozen ones), optionally ours.buffer.<bn>.running_mean|var
             (running stats after the forward pass).
  sgd-check: init.<state dict keys>, optionally init.optimizer.<slot>.<param> (initial state, every
             slot or none), batch.<k>.input / batch.<k>.target for k = 0..steps-1, final.<param> and
             final.<bn>.running_mean|var (final.<frozen param>, final.<bn>.num_batches_tracked
             optional), final.optimizer.<slot>.<param> for every slot (momentum_buffer for sgd and
             sgdw with momentum; step [], exp_avg, exp_avg_sq for adam and adamw), optionally
             ours.losses [steps]; __metadata__["optim"] = JSON {"optimizer": sgd|sgdw|adamw|adam,
             "lr": x|[x]*steps, "wd": x|[x]*steps, "momentum": b, "nesterov": bool,
             "betas": [b1, b2], "eps": e, "steps": K}.
  logits:    <state dict keys incl. running stats>, input, ours.logits (eval mode).
  swa-eval:  --data FILE: bn.input [M,C,H,W] (update_bn's data, in order, already normalised),
             test.input, test.target, optionally ours.logits [T,classes] and ours.state.<key>
             (our averaged weights and recomputed running stats) to compare; the snapshots are
             checkpoints given with --snapshots (optimizer.* entries ignored).
  load:      <state dict keys>, optionally optimizer.momentum_buffer.<param> (as our checkpoints hold
             them) or momentum.<param>; other optimizer.* entries are ignored and listed.
Exit: 0 ok, 1 an error above --tol, 2 bad input, 3 internal error.
"""


def build_parser():
    p = argparse.ArgumentParser(
        prog="torch_bridge.py", description=__doc__.split("\n\n")[0] + " Compares our results with PyTorch.",
        epilog=FORMAT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("parity", help="train-mode forward/backward: logits, loss, gradients (float64 reference)",
                       description="One forward and backward pass in train mode, float64 reference: compares "
                                   "ours.logits, ours.loss and ours.grad.<param> for every trainable parameter.",
                       epilog=FORMAT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--file", required=True, help="safetensors file written by the TS side")
    s.add_argument("--tol", type=float, default=1e-4, help="max relative error (default 1e-4)")
    s.set_defaults(func=cmd_parity)

    s = sub.add_parser("sgd-check", help="K optimizer steps (SGD, SGDW, AdamW, Adam): params, running stats, optimizer state",
                       description="Replays K steps of torch.optim.SGD (sgd; sgdw: without weight_decay, after "
                                   "w *= 1 - lr*wd), torch.optim.AdamW or torch.optim.Adam in float64 from init.* on "
                                   "batch.<k>.* and compares final.*.",
                       epilog=FORMAT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--file", required=True, help="safetensors file written by the TS side")
    s.add_argument("--tol", type=float, default=1e-4, help="max relative error (default 1e-4)")
    s.set_defaults(func=cmd_sgd_check)

    s = sub.add_parser("logits", help="eval-mode logits of a checkpoint (float64 reference, float32 reported too)",
                       description="Eval-mode (running statistics) logits: compares ours.logits with a float64 "
                                   "reference; also reports the errors against PyTorch float32.",
                       epilog=FORMAT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--file", required=True, help="safetensors file: state dict, input, ours.logits")
    s.add_argument("--tol", type=float, default=1e-5, help="max relative error vs float64 (default 1e-5)")
    s.set_defaults(func=cmd_logits)

    s = sub.add_parser("bench", help="float32 training-step timing in PyTorch on random data",
                       description="Times float32 training steps (forward, cross-entropy, backward, SGD step) "
                                   "of the architecture on one fixed random batch; reports medians.")
    s.add_argument("--model", required=True,
                   help="the architecture as JSON text or a .json file (`node dist/cli.js architecture --model cnn4-si`)")
    s.add_argument("--batch", type=int, default=128)
    s.add_argument("--input", default="3x32x32", help="C x H x W (default 3x32x32)")
    s.add_argument("--steps", type=int, default=30, help="timed steps (default 30)")
    s.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5)")
    s.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    s.add_argument("--momentum", type=float, default=0.9)
    s.add_argument("--wd", type=float, default=5e-4)
    s.add_argument("--lr", type=float, default=0.1)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", choices=["cpu", "cuda", "cuda-if-available"], default="cpu",
                   help="where the step runs (default cpu); cuda-if-available falls back to the CPU without CUDA")
    s.add_argument("--profile", action="store_true",
                   help="also report self CPU time per aten op and step (profile_ms), from --steps more steps under torch.profiler")
    s.set_defaults(func=cmd_bench)

    s = sub.add_parser("swa-eval", help="SWA in PyTorch: AveragedModel over snapshots, update_bn, eval logits",
                       description="Averages the snapshots with torch.optim.swa_utils.AveragedModel (float64), "
                                   "recomputes BN statistics with update_bn over bn.input in batches of --bn-batch "
                                   "(the last one smaller), evaluates test.input in eval mode, and compares "
                                   "ours.logits / ours.state.* when given.",
                       epilog=FORMAT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--snapshots", nargs="+", required=True, help="checkpoint files to average (equal weights)")
    s.add_argument("--data", required=True, help="safetensors file: bn.input, test.input, test.target, ours.*")
    s.add_argument("--bn-batch", type=int, default=128, help="update_bn batch size (default 128)")
    s.add_argument("--tol", type=float, default=1e-4, help="max relative error (default 1e-4)")
    s.set_defaults(func=cmd_swa_eval)

    s = sub.add_parser("angular", help="angular update per window of a PyTorch run, with an optional LR or WD decay",
                       description="Trains a model (cnn4-si, ...) on 1x28x28 IDX data with torch.optim.SGD and "
                                   "weight decay, divides the LR or the WD by 10 at --decay-step, and reports the "
                                   "mean angular update of the conv weights per window: computed stably in "
                                   "float64, and as acos of the float32 cosine (which has a rounding floor).")
    s.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist", help="directory with train-*-idx*-ubyte[.gz]")
    s.add_argument("--model", required=True,
                   help="the architecture (JSON text or file) of a 1-channel model: `node dist/cli.js architecture --model cnn4-si --input 1x28x28 --bn-eps 1e-8`")
    s.add_argument("--batch", type=int, default=128)
    s.add_argument("--lr", type=float, default=0.2)
    s.add_argument("--wd", type=float, default=5e-3)
    s.add_argument("--steps", type=int, default=2000)
    s.add_argument("--decay-step", type=int, default=1500)
    s.add_argument("--decay", choices=["lr", "weight_decay"], default="lr")
    s.add_argument("--window", type=int, default=250)
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_angular)

    s = sub.add_parser("load", help="strict load_state_dict of a checkpoint; prints parameter count and keys",
                       description="Loads a checkpoint into the model built from its metadata with "
                                   "load_state_dict(strict=True). Missing or unknown keys are named in the error.",
                       epilog=FORMAT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--file", required=True, help="checkpoint (safetensors)")
    s.set_defaults(func=cmd_load)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)  # argparse itself exits 2 on bad arguments
    if getattr(args, "tol", 1.0) <= 0:
        print("torch_bridge: error: --tol must be positive", file=sys.stderr)
        return 2
    try:
        result = args.func(args)
    except BadInput as e:
        print(f"torch_bridge {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Exception:  # noqa: BLE001 — report, but never confuse a crash with a tolerance failure
        traceback.print_exc()
        print(f"torch_bridge {args.command}: internal error (a bug in the bridge, not in the input)", file=sys.stderr)
        return 3
    print(json.dumps(result))
    return 0 if result.get("ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
