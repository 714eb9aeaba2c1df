"""The user's own PyTorch module, the referee of an imported (ONNX) model.

An imported network's twin is not rebuilt from its architecture (the steps there are the ONNX
nodes, for documentation): it is the module the user exported, named as MODULE:FACTORY
(`torchvision.models:resnet18`, or `path/to/nets.py:Net`) with keyword arguments. The TypeScript
side writes that into the file's metadata as `torch_module`:

    {"factory": "torchvision.models:resnet18", "kwargs": {"num_classes": 10}, "frozen": ["fc.weight", ...]}

`frozen` names the parameters it does not train (--si), which get requires_grad=False here too.
"""

import importlib
import importlib.util
import json
import os

import torch

TORCH_MODULE_KEYS = {"factory", "kwargs", "frozen"}


class UserModuleError(Exception):
    """The module reference or the factory is unusable (bad input, exit status 2 in the bridge)."""


def parse_torch_module(text):
    """The `torch_module` metadata as a dict, validated."""
    try:
        ref = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserModuleError(f"torch_module metadata is not JSON ({e})")
    if not isinstance(ref, dict) or set(ref) != TORCH_MODULE_KEYS:
        raise UserModuleError(f"torch_module metadata must have the keys {sorted(TORCH_MODULE_KEYS)}, got {ref!r}")
    if not isinstance(ref["kwargs"], dict) or not isinstance(ref["frozen"], list):
        raise UserModuleError("torch_module: kwargs must be an object and frozen a list of parameter names")
    load_factory(ref["factory"])  # fails now, with the reference named, rather than mid-comparison
    return ref


def load_factory(reference):
    """The callable MODULE:FACTORY names: MODULE a dotted module (torchvision.models) or a .py file."""
    module_name, sep, attr = reference.rpartition(":")
    if not sep or not module_name or not attr:
        raise UserModuleError(f"--torch {reference!r}: expected MODULE:FACTORY, e.g. torchvision.models:resnet18 or path/to/nets.py:Net")
    if module_name.endswith(".py"):
        if not os.path.isfile(module_name):
            raise UserModuleError(f"--torch {reference!r}: no such file {module_name}")
        spec = importlib.util.spec_from_file_location(f"ilr_user_{abs(hash(os.path.abspath(module_name)))}", module_name)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001 — the user's file: report what it raised
            raise UserModuleError(f"--torch {reference!r}: importing {module_name} raised {type(e).__name__}: {e}")
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise UserModuleError(f"--torch {reference!r}: cannot import {module_name} ({e})")
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise UserModuleError(f"--torch {reference!r}: {module_name} has no callable {attr}")
    return factory


def build_user_model(ref):
    """The user's module, float32, with the parameters our side freezes frozen here too."""
    factory = load_factory(ref["factory"])
    try:
        model = factory(**ref["kwargs"])
    except TypeError as e:
        raise UserModuleError(f"--torch {ref['factory']} with {ref['kwargs']}: {e}")
    dropout = [(name, m.p) for name, m in model.named_modules() if isinstance(m, torch.nn.modules.dropout._DropoutNd) and m.p > 0]
    if dropout:
        raise UserModuleError(f"--torch {ref['factory']} with {ref['kwargs']}: dropout {dropout} draws random masks in train mode, "
                              f"which the imported model (exported with the dropout off) does not; pass the keyword that turns it off (e.g. dropout=0.0)")
    params = dict(model.named_parameters())
    unknown = sorted(k for k in ref["frozen"] if k not in params)
    if unknown:
        raise UserModuleError(f"--torch {ref['factory']}: frozen parameters {unknown} are not parameters of the module; is it the module that was exported?")
    for k in ref["frozen"]:
        params[k].requires_grad_(False)
    return model.float()
