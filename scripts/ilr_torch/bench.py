"""The benchmark's PyTorch side: float32 training steps of the twin on one fixed random batch, timed
(medians), on the CPU or CUDA, and optionally profiled by aten op (`ilr bench --vs-torch`)."""

import resource
import statistics
import time

import torch
import torch.nn.functional as F

from .twin import BadInput, build_model, parse_model_arg
from .user_module import UserModuleError, parse_torch_module


def cmd_bench(args):
    try:
        shape = [int(v) for v in args.input.lower().split("x")]
        assert len(shape) == 3 and all(v > 0 for v in shape)
    except (ValueError, AssertionError):
        raise BadInput(f"--input must look like 3x32x32 (C x H x W), got {args.input!r}")
    arch = parse_model_arg(args.model)
    if args.torch_module:
        try:
            arch = dict(arch, torch_module=parse_torch_module(args.torch_module))
        except UserModuleError as e:
            raise BadInput(f"--torch-module: {e}")
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
