"""The referee of the Hessian measurements (src/train/hessian.ts), in float64 on the twin.

hessian: the file holds a state, a batch (input, target), directions v.<k>.<param> over the
measured parameters S (k = 0, 1, ...), our products ours.hv.<k>.<param> and optionally our
ours.lambda_max. The reference takes the train-mode loss (BatchNorm with the batch's statistics),
its gradient with create_graph, and H_SS·v by differentiating <grad, v> once more (double
backward); with --eigen it also builds the whole block H_SS, one product per basis vector, and
takes its eigenvalues (numpy's eigh via torch.linalg.eigvalsh) for λ_max.
"""

import re

import torch
import torch.nn.functional as F

from .referee import rel_err, verdict
from .twin import BadInput, ReluWatch, build_model, get_batch, get_tensor, load_state, read_file, trainable_names

DIRECTION = re.compile(r"^v\.(\d+)\.(.+)$")


def directions(tensors, path):
    """{k: {param: tensor}} from v.<k>.<param>; every k names the same parameters."""
    out = {}
    for name, t in tensors.items():
        m = DIRECTION.match(name)
        if m:
            out.setdefault(int(m.group(1)), {})[m.group(2)] = t
    if not out:
        raise BadInput(f"{path}: no directions v.<k>.<param>")
    names = sorted(out[min(out)])
    for k, v in out.items():
        if sorted(v) != names:
            raise BadInput(f"{path}: direction {k} names {sorted(v)}, direction {min(out)} names {names}")
    return [out[k] for k in sorted(out)], names


def cmd_hessian(args):
    tensors, _meta, arch = read_file(args.file)
    path = args.file
    vs, names = directions(tensors, path)
    model = build_model(arch).double()
    state = {k: v for k, v in tensors.items() if not k.startswith(("ours.", "v.")) and k not in ("input", "target")}
    load_state(model, state, path, require_buffers=False)
    trainable = trainable_names(model)
    unknown = [n for n in names if n not in trainable]
    if unknown:
        raise BadInput(f"{path}: directions over {unknown}, which are not trainable parameters of the model ({trainable})")
    x, y = get_batch(tensors, "", path, arch)
    params = dict(model.named_parameters())
    wrt = [params[n] for n in names]
    model.train()
    with ReluWatch() as ties:
        loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, wrt, create_graph=True)

    def hvp(v):
        return torch.autograd.grad(grads, wrt, grad_outputs=v, retain_graph=True)

    errors = {}
    for k, v in enumerate(vs):
        ref = torch.cat([h.flatten() for h in hvp([v[n].double() for n in names])])
        ours = torch.cat([get_tensor(tensors, f"ours.hv.{k}.{n}", path).flatten() for n in names])
        errors[f"hv.{k}"] = rel_err(ours, ref, f"ours.hv.{k}", path)
    extra = {"loss_ref": loss.item(), "parameters": names, "size": sum(p.numel() for p in wrt)}
    if args.eigen:
        size = extra["size"]
        if size > args.max_size:
            raise BadInput(f"{path}: the block H_SS has {size} rows; --eigen builds it whole, which takes one product per row "
                           f"(--max-size {args.max_size}): measure a smaller net or subset")
        rows = []
        for i in range(size):
            e = torch.zeros(size, dtype=torch.float64)
            e[i] = 1
            parts, at = [], 0
            for p in wrt:
                parts.append(e[at:at + p.numel()].reshape(p.shape))
                at += p.numel()
            rows.append(torch.cat([h.flatten() for h in hvp(parts)]))
        hessian = torch.stack(rows)
        asymmetry = (torch.linalg.matrix_norm(hessian - hessian.T) / torch.linalg.matrix_norm(hessian)).item()
        eigenvalues = torch.linalg.eigvalsh((hessian + hessian.T) / 2)
        top = eigenvalues[-1].item()
        extra.update({"lambda_max_ref": top, "lambda_second_ref": eigenvalues[-2].item(), "lambda_min_ref": eigenvalues[0].item(),
                      "trace_ref": eigenvalues.sum().item(), "asymmetry": asymmetry})
        if "ours.lambda_max" in tensors:
            ours_top = get_tensor(tensors, "ours.lambda_max", path).double().reshape(()).item()
            errors["lambda_max"] = abs(ours_top - top) / abs(top)
    return verdict(arch, errors, args.tol, ties=ties.report(), extra=extra)
