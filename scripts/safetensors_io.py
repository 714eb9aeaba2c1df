"""A small, dependency-free reader and writer for the safetensors format, on top of torch.

Why our own: the project avoids pickle and extra Python packages (only Debian's torch is
installed under /usr/bin/python3), and the format is small enough to implement and check here.
The TypeScript side (src/io/safetensors.ts) writes and reads the same layout:

    8 bytes     little-endian u64 N, the header length in bytes
    N bytes     UTF-8 JSON: {name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
                             "__metadata__": {str: str}}   (metadata optional)
                padded with spaces to a multiple of 8 (we pad on write, accept any on read)
    rest        the raw little-endian tensor bytes; offsets are relative to the end of the header

Usage from another script (SWA evaluation, tests):

    sys.path.insert(0, os.path.dirname(__file__))
    from safetensors_io import read_safetensors, write_safetensors
    tensors, metadata = read_safetensors("ckpt.safetensors")
    write_safetensors("out.safetensors", {"x": torch.zeros(3)}, {"model": json.dumps(spec)})
"""

import json
import os
import struct
import sys

import torch

# Format code -> torch dtype. F32/F64/I64/I32/U8/BOOL are what the project uses; the others are
# cheap to support and let the reader open files written by other tools.
DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
CODES = {v: k for k, v in DTYPES.items()}
ITEMSIZE = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}

# A header larger than this is certainly not ours (guards against reading a random file's first
# 8 bytes as a length and trying to allocate terabytes).
MAX_HEADER_BYTES = 100 * 1024 * 1024


class SafetensorsError(ValueError):
    """The file is not a valid safetensors file, or a tensor cannot be written."""


def _require_little_endian():
    # torch.frombuffer and tensor bytes use the host order; the format is little-endian.
    if sys.byteorder != "little":
        raise SafetensorsError("this reader supports little-endian hosts only")


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def decode_safetensors(data, where="<bytes>"):
    """Parses safetensors bytes into ({name: torch.Tensor}, {str: str}).

    Every tensor is a fresh, writable copy (so callers may modify it in place). All structural
    problems raise SafetensorsError naming the file and the reason.
    """
    _require_little_endian()

    def bad(why):
        return SafetensorsError(
            f"{where}: not a valid safetensors file ({why}); it may be truncated or from another program")

    if len(data) < 8:
        raise bad("shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", data[:8])
    if n > MAX_HEADER_BYTES or n > len(data) - 8:
        raise bad(f"header of {n} bytes does not fit in a file of {len(data)} bytes")
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(f"header is not UTF-8 JSON: {e}")
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")

    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise bad("__metadata__ must map strings to strings")

    base = 8 + n
    body = len(data) - base
    tensors = {}
    spans = []
    for name, info in header.items():
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            raise bad(f"tensor {name!r} lacks dtype, shape or data_offsets")
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if code not in DTYPES:
            raise bad(f"tensor {name!r} has unsupported dtype {code!r} (known: {', '.join(DTYPES)})")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise bad(f"tensor {name!r} has an invalid shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise bad(f"tensor {name!r} has invalid data_offsets {offsets!r}")
        begin, end = offsets
        expected = _numel(shape) * ITEMSIZE[code]
        if begin < 0 or end < begin or end - begin != expected:
            raise bad(f"tensor {name!r}: {end - begin} bytes for {code} shape {shape} (expected {expected})")
        if end > body:
            raise bad(f"tensor {name!r} ends at byte {base + end}, past the end of the file ({len(data)} bytes)")
        spans.append((begin, end, name))
        if expected == 0:
            tensors[name] = torch.empty(shape, dtype=DTYPES[code])
        else:
            # bytearray: a private, writable copy, so frombuffer neither warns nor aliases the file.
            buf = bytearray(data[base + begin:base + end])
            tensors[name] = torch.frombuffer(buf, dtype=DTYPES[code]).reshape(shape)

    # The data must be exactly covered: no overlaps, no holes, no trailing bytes.
    at = 0
    for begin, end, name in sorted(spans):
        if begin != at:
            raise bad(f"tensor {name!r} starts at {begin}, expected {at} (overlap or hole in the data)")
        at = end
    if at != body:
        raise bad(f"{body - at} unexpected trailing bytes after the last tensor")
    return tensors, dict(metadata)


def read_safetensors(path):
    """Reads a safetensors file: returns ({name: torch.Tensor}, {str: str})."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise SafetensorsError(f"{path}: cannot read ({e.strerror})")
    return decode_safetensors(data, path)


def _tensor_bytes(t):
    """Raw little-endian bytes of a contiguous CPU tensor."""
    t = t.detach().contiguous().cpu()
    if t.numel() == 0:
        return b""
    if t.dtype == torch.bfloat16:
        return _tensor_bytes(t.view(torch.int16))
    try:
        import numpy  # noqa: F401  (fast path; torch.Tensor.numpy needs numpy)
        return t.numpy().tobytes()
    except ImportError:
        return bytes(t.reshape(-1).view(torch.uint8).tolist())


def encode_safetensors(tensors, metadata=None):
    """Serializes {name: torch.Tensor} (+ {str: str} metadata) to bytes; names sorted."""
    _require_little_endian()
    header = {}
    if metadata:
        bad = [k for k, v in metadata.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise SafetensorsError(f"metadata values must be strings (json.dumps them): {bad}")
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name in sorted(tensors):
        if name == "__metadata__":
            raise SafetensorsError("'__metadata__' is reserved and cannot name a tensor")
        t = tensors[name]
        if not isinstance(t, torch.Tensor):
            raise SafetensorsError(f"tensor {name!r} is a {type(t).__name__}, not a torch.Tensor")
        if t.dtype not in CODES:
            raise SafetensorsError(f"tensor {name!r} has dtype {t.dtype}, which safetensors_io cannot write")
        raw = _tensor_bytes(t)
        header[name] = {"dtype": CODES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write_safetensors(path, tensors, metadata=None):
    """Writes atomically (temp file in the same directory, fsync, rename), like the TS side:
    a crash never leaves half a file under the final name."""
    data = encode_safetensors(tensors, metadata)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
