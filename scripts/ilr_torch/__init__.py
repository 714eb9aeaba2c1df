"""The PyTorch side of intrinsic-lr, in parts: the twin (twin.py), the referee (referee.py), the
benchmark (bench.py) and PyTorch's own training runs (runs.py). scripts/torch_bridge.py is the one
command line over them."""
