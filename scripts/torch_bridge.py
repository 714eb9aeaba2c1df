#!/usr/bin/python3
"""The PyTorch referee of intrinsic-lr.

The TypeScript side builds ONNX training programs for normalized ResNets and CNNs; this script
rebuilds the *same* network in PyTorch from the architecture that travels in every safetensors file
(`__metadata__["architecture"]`: the forward pass as a list of torch.nn modules and functions,
recorded by src/nn/layers.ts), computes the reference in float64, and compares. PyTorch is the referee
because ORT's CPU Conv refuses float64, so our own float64 check is impossible there.

Run with Debian's interpreter, which has torch:  /usr/bin/python3 scripts/torch_bridge.py --help

Subcommands (each prints exactly one JSON object on stdout), from the modules of scripts/ilr_torch/:
  parity     referee: one forward/backward in train mode: logits, loss, every trainable gradient
  replay     referee: K steps of an optimizer with its torch class: params, BN running stats, state
  logits     referee: eval-mode logits (running statistics) of a checkpoint
  swa-eval   referee: average snapshots (AveragedModel), update_bn, evaluate: the referee of `ilr swa`
  hessian    referee: exact Hessian-vector products (double backward) and the whole Hessian's λ_max
  load       referee: strict load_state_dict of a checkpoint: proves it loads in PyTorch
  bench      bench: float32 training-step timing of the same architecture on random data
  angular    runs: a PyTorch training run's angular update per window (the decay figure's referee)

Exit status: 0 all errors within tolerance (or success), 1 some relative error above tolerance,
2 bad input (message on stderr), 3 an unexpected internal error (traceback on stderr).
"""

import argparse
import json
import os
import sys
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in scripts/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ilr_torch import bench, hessian, referee, runs  # noqa: E402
from ilr_torch.twin import BadInput  # noqa: E402


def file_command(sub, name, func, tol, help, description):
    """A subcommand that compares a safetensors file written by the TS side: --file and --tol."""
    s = sub.add_parser(name, help=help, description=description, epilog=referee.FORMAT_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--file", required=True, help="safetensors file written by the TS side")
    s.add_argument("--tol", type=float, default=tol, help=f"max relative error (default {tol:g})")
    s.set_defaults(func=func)
    return s


def build_parser():
    p = argparse.ArgumentParser(
        prog="torch_bridge.py", description=__doc__.split("\n\n")[0] + " Compares our results with PyTorch.",
        epilog=referee.FORMAT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    file_command(sub, "parity", referee.cmd_parity, 1e-4,
                 help="train-mode forward/backward: logits, loss, gradients (float64 reference)",
                 description="One forward and backward pass in train mode, float64 reference: compares "
                             "ours.logits, ours.loss and ours.grad.<param> for every trainable parameter.")

    file_command(sub, "replay", referee.cmd_replay, 1e-4,
                 help="K optimizer steps with its torch class: params, running stats, optimizer state",
                 description="Replays K steps of the optimizer the file's optim metadata names with its torch "
                             "class (sgd: torch.optim.SGD; sgdw: SGD without weight_decay, after w *= 1 - lr*wd; "
                             "adamw, adam: torch.optim.AdamW, Adam) in float64 from init.* on batch.<k>.* and "
                             "compares final.*.")

    s = sub.add_parser("logits", help="eval-mode logits of a checkpoint (float64 reference, float32 reported too)",
                       description="Eval-mode (running statistics) logits: compares ours.logits with a float64 "
                                   "reference; also reports the errors against PyTorch float32.",
                       epilog=referee.FORMAT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--file", required=True, help="safetensors file: state dict, input, ours.logits")
    s.add_argument("--tol", type=float, default=1e-5, help="max relative error vs float64 (default 1e-5)")
    s.set_defaults(func=referee.cmd_logits)

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
    s.add_argument("--torch-module", help="an imported model's PyTorch module, as the torch_module metadata (JSON: factory, kwargs, frozen)")
    s.add_argument("--device", choices=["cpu", "cuda", "cuda-if-available"], default="cpu",
                   help="where the step runs (default cpu); cuda-if-available falls back to the CPU without CUDA")
    s.add_argument("--profile", action="store_true",
                   help="also report self CPU time per aten op and step (profile_ms), from --steps more steps under torch.profiler")
    s.set_defaults(func=bench.cmd_bench)

    s = file_command(sub, "hessian", hessian.cmd_hessian, 1e-3,
                     help="Hessian-vector products by double backward (float64), and λ_max of the whole block",
                     description="Train-mode loss in float64: compares ours.hv.<k>.<param> with H_SS·v for every "
                                 "direction v.<k>.<param> (S: the parameters the directions name); with --eigen builds "
                                 "H_SS whole (one product per row) and compares ours.lambda_max with its top eigenvalue.")
    s.add_argument("--eigen", action="store_true", help="also the whole block's eigenvalues (small nets only)")
    s.add_argument("--max-size", type=int, default=4000, help="largest block --eigen builds (default 4000 rows)")

    s = sub.add_parser("swa-eval", help="SWA in PyTorch: AveragedModel over snapshots, update_bn, eval logits",
                       description="Averages the snapshots with torch.optim.swa_utils.AveragedModel (float64), "
                                   "recomputes BN statistics with update_bn over bn.input in batches of --bn-batch "
                                   "(the last one smaller), evaluates test.input in eval mode, and compares "
                                   "ours.logits / ours.state.* when given.",
                       epilog=referee.FORMAT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--snapshots", nargs="+", required=True, help="checkpoint files to average (equal weights)")
    s.add_argument("--data", required=True, help="safetensors file: bn.input, test.input, test.target, ours.*")
    s.add_argument("--bn-batch", type=int, default=128, help="update_bn batch size (default 128)")
    s.add_argument("--tol", type=float, default=1e-4, help="max relative error (default 1e-4)")
    s.set_defaults(func=referee.cmd_swa_eval)

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
    s.set_defaults(func=runs.cmd_angular)

    s = sub.add_parser("load", help="strict load_state_dict of a checkpoint; prints parameter count and keys",
                       description="Loads a checkpoint into the model built from its metadata with "
                                   "load_state_dict(strict=True). Missing or unknown keys are named in the error.",
                       epilog=referee.FORMAT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--file", required=True, help="checkpoint (safetensors)")
    s.set_defaults(func=referee.cmd_load)
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
