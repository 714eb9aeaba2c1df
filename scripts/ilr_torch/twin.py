"""The PyTorch twin of one of our networks, and the state it is loaded with.

The TypeScript side records its forward pass as data (`Architecture` in src/nn/layers.ts, carried in
every safetensors file's `__metadata__["architecture"]`); this module rebuilds that network in
PyTorch (`build_model`), reads the files (`read_file`) and loads their state into it (`load_state`),
with errors that name the file, the key and what was expected. The referee, the benchmark and the
PyTorch runs all build their models here.
"""

import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from safetensors_io import SafetensorsError, read_safetensors  # scripts/ is on sys.path: the entry points put it there

from .user_module import UserModuleError, build_user_model, parse_torch_module


class BadInput(Exception):
    """The input files or arguments do not follow the contract: exit status 2."""


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



def json_number(x):
    """JSON has no NaN/Infinity: report them as strings (and they never pass a tolerance)."""
    if isinstance(x, float) and not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    return x



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

