"""The referee: our float32 results against PyTorch's float64 on the same twin and state.

parity (one train-mode forward and backward), replay (K steps of an optimizer with its torch class),
logits (eval mode), swa-eval (AveragedModel and update_bn) and load (strict load_state_dict of a
checkpoint). Each returns the common result object of `verdict`.

Relative error of a tensor: ||ours - ref||_2 / max(||ref||_2, 1e-30), computed in float64.
"""

import json
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .twin import (BadInput, ReluWatch, build_model, frozen_names, get_batch, get_tensor, json_number, load_state,
                   read_file, running_stat_names, split_prefix, trainable_names)


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
    norm = lambda k: torch.linalg.vector_norm(ref64[k].double()).item()  # noqa: E731
    largest = max((norm(k) for k in ours if k.startswith("grad.")), default=0.0)

    def err(a, k, name):
        e = rel_err(a, ref64[k], name, path)
        return e * max(norm(k), 1e-30) / largest if k.startswith("grad.") and norm(k) < ZERO_GRADIENT * largest else e

    errors = {k: err(ours[k], k, prefix + k) for k in ours}
    baseline = {k: err(ref32[k], k, "float32 " + k) for k in ours}
    return errors, baseline



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


# The optimizers of src/programs/optimizers.ts by name. The file's `optim` metadata carries what the
# registry says of the run (its hyperparameters, settings and state slots, src/bridge/replay.ts);
# what only this side can know is the torch class each name replays with, how that class spells our
# hyperparameters, and the state keys it keeps (our slot names are torch's state keys).
@dataclass(frozen=True)
class TorchOptimizer:
    cls: type
    kwargs: object  # (hyper, settings) -> the class's keyword arguments beyond lr and weight_decay
    state_keys: tuple
    # sgdw (decoupled WD) has no torch class: torch.optim.SGD without weight decay, after
    # w <- w*(1 - lr*wd), the order AdamW uses.
    decay_by_hand: bool = False


def sgd_kwargs(hyper, settings):
    # Without momentum the program takes no `momentum` input: plain SGD.
    return {"momentum": hyper.get("momentum", 0.0), "nesterov": bool(settings.get("nesterov", False)), "dampening": 0}


def adam_kwargs(hyper, settings):
    return {"betas": (hyper["beta1"], hyper["beta2"]), "eps": hyper["eps"]}


SGD_STATE = ("momentum_buffer",)
ADAM_STATE = ("step", "exp_avg", "exp_avg_sq")
TORCH_OPTIMIZERS = {
    "sgd": TorchOptimizer(torch.optim.SGD, sgd_kwargs, SGD_STATE),
    "sgdw": TorchOptimizer(torch.optim.SGD, sgd_kwargs, SGD_STATE, decay_by_hand=True),
    "adamw": TorchOptimizer(torch.optim.AdamW, adam_kwargs, ADAM_STATE),
    "adam": TorchOptimizer(torch.optim.Adam, adam_kwargs, ADAM_STATE),
}
OPTIM_KEYS = {"optimizer", "hyper", "settings", "slots", "lr", "wd", "steps", "svag"}


def parse_optim(meta, path):
    """The `optim` metadata: {"optimizer", "hyper": {name: number}, "settings": {...}, "slots":
    [{"name", "scalar"?}], "lr", "wd", "steps"}; lr and wd may also be lists of `steps` numbers
    (a per-step schedule)."""
    if "optim" not in meta:
        raise BadInput(f"{path}: __metadata__ has no 'optim' (JSON {{{', '.join(sorted(OPTIM_KEYS))}}})")
    try:
        o = json.loads(meta["optim"])
    except json.JSONDecodeError as e:
        raise BadInput(f"{path}: __metadata__['optim'] is not JSON: {e}")
    if not isinstance(o, dict):
        raise BadInput(f"{path}: __metadata__['optim'] must be a JSON object")
    if set(o) != OPTIM_KEYS:
        raise BadInput(f"{path}: optim must have the keys {sorted(OPTIM_KEYS)}, got {sorted(o)} "
                       f"(write it with the current TypeScript side: src/bridge/replay.ts)")
    steps = o["steps"]
    if not isinstance(steps, int) or steps < 1:
        raise BadInput(f"{path}: optim.steps must be a positive integer, got {steps!r}")
    name = o["optimizer"]
    if name not in TORCH_OPTIMIZERS:
        raise BadInput(f"{path}: optim.optimizer {name!r} has no torch class here (known: {', '.join(TORCH_OPTIMIZERS)}); "
                       f"a new optimizer needs its entry in TORCH_OPTIMIZERS (scripts/ilr_torch/referee.py)")
    hyper, settings, slots = o["hyper"], o["settings"], o["slots"]
    if not isinstance(hyper, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in hyper.values()):
        raise BadInput(f"{path}: optim.hyper must map names to numbers, got {hyper!r}")
    if not isinstance(settings, dict):
        raise BadInput(f"{path}: optim.settings must be a JSON object, got {settings!r}")
    if not isinstance(slots, list) or not all(isinstance(s, dict) and isinstance(s.get("name"), str) for s in slots):
        raise BadInput(f"{path}: optim.slots must be a list of {{\"name\", \"scalar\"?}}, got {slots!r}")
    unknown = [s["name"] for s in slots if s["name"] not in TORCH_OPTIMIZERS[name].state_keys]
    if unknown:
        raise BadInput(f"{path}: optim.slots {unknown} are not state that torch's {TORCH_OPTIMIZERS[name].cls.__name__} "
                       f"keeps ({', '.join(TORCH_OPTIMIZERS[name].state_keys)})")
    svag = o["svag"]
    if not isinstance(svag, int) or isinstance(svag, bool) or svag < 1:
        raise BadInput(f"{path}: optim.svag must be an integer L >= 1 (1: the optimizer itself), got {svag!r}")
    out = {"optimizer": name, "hyper": hyper, "settings": settings, "slots": slots, "steps": steps, "svag": svag}
    for key in ("lr", "wd"):
        v = o[key]
        if isinstance(v, list):
            if len(v) != steps or not all(isinstance(e, (int, float)) for e in v):
                raise BadInput(f"{path}: optim.{key} as a list must hold {steps} numbers")
            out[key] = [float(e) for e in v]
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = [float(v)] * steps
        else:
            raise BadInput(f"{path}: optim.{key} must be a number, got {v!r}")
    return out


def svag_loss(model, batches, l):
    """The loss an optimizer step differentiates: SGD's on one batch (l = 1), or SVAG's (svag's
    pl_modules/exp_modules.py) on two, c1*L1 + c2*L2 with c1,2 = (1 +- sqrt(2l - 1))/2, each loss
    with its own batch statistics; the step's LR is then lr/l."""
    if l == 1:
        (x, y), = batches
        return F.cross_entropy(model(x), y)
    r = math.sqrt(2 * l - 1)
    (x1, y1), (x2, y2) = batches
    return (1 + r) / 2 * F.cross_entropy(model(x1), y1) + (1 - r) / 2 * F.cross_entropy(model(x2), y2)


def make_optimizer(params, o):
    """The torch optimizer of a parsed `optim` (its first step's lr and wd)."""
    t = TORCH_OPTIMIZERS[o["optimizer"]]
    return t.cls(params, lr=o["lr"][0], weight_decay=0.0 if t.decay_by_hand else o["wd"][0], **t.kwargs(o["hyper"], o["settings"]))


def slot_names(o):
    """The state slots the run keeps per trainable parameter (none for SGD without momentum)."""
    return [s["name"] for s in o["slots"]]


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
    decay_by_hand = TORCH_OPTIMIZERS[o["optimizer"]].decay_by_hand
    svag = o["svag"]
    per_step = 1 if svag == 1 else 2
    for k in range(len(batches) // per_step):
        lr = o["lr"][k] / svag
        for g in opt.param_groups:
            g["lr"] = lr
            g["weight_decay"] = 0.0 if decay_by_hand else o["wd"][k]
        opt.zero_grad()
        loss = svag_loss(model, [(x.to(dtype), y) for x, y in batches[per_step * k:per_step * (k + 1)]], svag)
        loss.backward()
        if decay_by_hand:
            with torch.no_grad():
                for name in trainable:
                    params[name].mul_(1 - lr * o["wd"][k])
        opt.step()
        losses.append(loss.item())
    out = {k: v.detach() for k, v in model.state_dict().items()}
    for slot in slot_names(o):
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


def cmd_replay(args):
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
    # Under SVAG each step takes two batches: 2k and 2k + 1.
    count = K if o["svag"] == 1 else 2 * K
    batches = []
    for k in range(count):
        batches.append(get_batch(tensors, f"batch.{k}.", path, arch))
        names |= {f"batch.{k}.input", f"batch.{k}.target"}
    stray = sorted(set(tensors) - names - {"ours.losses"})
    if stray:
        raise BadInput(f"{path}: unexpected tensors {stray} (steps={K}, svag={o['svag']}: batches 0..{count - 1}; "
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
    slots = slot_names(o)
    scalar = {s["name"] for s in o["slots"] if s.get("scalar")}
    expected = {(slot, k) for slot in slots for k in trainable}
    for group, what in ((init_slots, "init"), (final_slots, "final")):
        wrong = sorted(f"{what}.optimizer.{s}.{k}" for s, k in set(group) - expected)
        if wrong:
            raise BadInput(f"{path}: {wrong} are not state of {o['optimizer']} for a trainable parameter; "
                           f"its slots (optim.slots) are {slots or 'none'}")
        for (slot, k), v in group.items():
            want = [] if slot in scalar else list(params[k].shape)
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


FORMAT_HELP = """
File contract (safetensors; the architecture as JSON text in __metadata__["architecture"], the TS model
spec, reported back as "model", in __metadata__["model"]):
  parity:    <state dict keys> (float32; BN buffers optional), input [N,C,H,W] f32, target [N] i64,
             ours.logits [N,classes], ours.loss [] or [1], ours.grad.<param> for every trainable
             parameter (none for frozen ones), optionally ours.buffer.<bn>.running_mean|var
             (running stats after the forward pass).
  replay:    init.<state dict keys>, optionally init.optimizer.<slot>.<param> (initial state, every
             slot or none), batch.<k>.input / batch.<k>.target for k = 0..steps-1 (under SVAG two per
             step: 2k and 2k+1), final.<param> and
             final.<bn>.running_mean|var (final.<frozen param>, final.<bn>.num_batches_tracked
             optional), final.optimizer.<slot>.<param> for every slot of optim.slots (shape [] where
             the slot is scalar), optionally ours.losses [steps]; __metadata__["optim"] = JSON, from
             src/programs/optimizers.ts's entry: {"optimizer": sgd|sgdw|adamw|adam, "hyper": the
             program's scalar hyperparameters (momentum; beta1, beta2, eps), "settings": the config
             (nesterov ...), "slots": [{"name", "scalar"?}], "lr": x|[x]*steps, "wd": x|[x]*steps,
             "steps": K, "svag": L (1: the optimizer; L > 1: SVAG, c1*L1 + c2*L2 at the LR lr/L)}.
  logits:    <state dict keys incl. running stats>, input, ours.logits (eval mode).
  swa-eval:  --data FILE: bn.input [M,C,H,W] (update_bn's data, in order, already normalised),
             test.input, test.target, optionally ours.logits [T,classes] and ours.state.<key>
             (our averaged weights and recomputed running stats) to compare; the snapshots are
             checkpoints given with --snapshots (optimizer.* entries ignored).
  load:      <state dict keys>, optionally optimizer.momentum_buffer.<param> (as our checkpoints hold
             them) or momentum.<param>; other optimizer.* entries are ignored and listed.
Exit: 0 ok, 1 an error above --tol, 2 bad input, 3 internal error.
"""
