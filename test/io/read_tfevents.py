"""An independent reader for the TensorBoard event files `ilr train` writes, to check them against
the run's metrics.jsonl. It shares no code with the TypeScript writer: the record framing and
CRC32C are done here bit by bit, and the Event/Summary schema is declared with descriptor_pb2
(field numbers from tensorflow/core/util/event.proto and framework/summary.proto) and decoded by
Debian's python3-protobuf.

usage: read_tfevents.py EVENT_FILE METRICS_JSONL MOMENTUM
Exits 1 with a message on a bad CRC or a value that differs; prints a JSON summary otherwise.
"""
import json
import math
import struct
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def event_class():
    fd = descriptor_pb2.FileDescriptorProto(name="ilr_event_check.proto", package="check", syntax="proto3")
    summary = fd.message_type.add(name="Summary")
    value = summary.nested_type.add(name="Value")
    value.field.add(name="tag", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    value.oneof_decl.add(name="value")
    value.field.add(name="simple_value", number=2, type=F.TYPE_FLOAT, label=F.LABEL_OPTIONAL, oneof_index=0)
    summary.field.add(name="value", number=1, type=F.TYPE_MESSAGE, type_name=".check.Summary.Value", label=F.LABEL_REPEATED)
    event = fd.message_type.add(name="Event")
    event.field.add(name="wall_time", number=1, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    event.field.add(name="step", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    event.oneof_decl.add(name="what")
    event.field.add(name="file_version", number=3, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL, oneof_index=0)
    event.field.add(name="summary", number=5, type=F.TYPE_MESSAGE, type_name=".check.Summary", label=F.LABEL_OPTIONAL, oneof_index=0)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return message_factory.MessageFactory(pool).GetPrototype(pool.FindMessageTypeByName("check.Event"))


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def records(buf):
    at = 0
    while at < len(buf):
        if at + 12 > len(buf):
            sys.exit(f"truncated record header at byte {at}")
        header = buf[at:at + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", buf[at + 8:at + 12])
        if length_crc != masked(header):
            sys.exit(f"bad length CRC at byte {at}")
        data = buf[at + 12:at + 12 + length]
        if len(data) != length or at + 16 + length > len(buf):
            sys.exit(f"truncated record at byte {at}")
        (data_crc,) = struct.unpack("<I", buf[at + 12 + length:at + 16 + length])
        if data_crc != masked(data):
            sys.exit(f"bad data CRC in the record at byte {at}")
        yield data
        at += 16 + length


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


STEP = {"loss": "train/loss", "loss_avg": "train/loss_avg", "acc": "train/acc", "lr": "schedule/lr", "wd": "schedule/wd",
        "lambda_eta": "schedule/lambda_eta", "w_norm": "norm/w_norm", "g_norm": "norm/g_norm", "si_w_norm": "norm/si_w_norm",
        "eff_lr": "norm/eff_lr", "angular_update": "norm/angular_update", "cos_wg": "norm/cos_wg", "epoch": "epoch"}
EVAL = {"test_loss": "test/loss", "test_acc": "test/acc", "train_loss": "eval_train/loss", "train_acc": "eval_train/acc"}


def expected(metrics_file, momentum):
    want = {}
    with open(metrics_file) as f:
        for line in f:
            r = json.loads(line)
            s = r["step"]
            if r["type"] == "step":
                for k, tag in STEP.items():
                    want[(tag, s)] = r[k]
                want[("norm/angular_update_predicted", s)] = math.sqrt(2 * r["lr"] * r["wd"] / (1 + momentum))
                for name, layer in r.get("layers", {}).items():
                    for k, v in layer.items():  # norms, and the predicted equilibrium where the optimizer has one
                        want[(f"layer_{k}/{name}", s)] = v
            elif r["type"] == "eval":
                for k, tag in EVAL.items():
                    if k in r:
                        want[(tag, s)] = r[k]
    return want


def main():
    event_file, metrics_file, momentum = sys.argv[1], sys.argv[2], float(sys.argv[3])
    Event = event_class()
    with open(event_file, "rb") as f:
        buf = f.read()
    got = {}
    versions = []
    n = 0
    for data in records(buf):
        n += 1
        e = Event()
        e.ParseFromString(data)
        if e.WhichOneof("what") == "file_version":
            versions.append(e.file_version)
            continue
        for v in e.summary.value:
            key = (v.tag, e.step)
            if key in got:
                sys.exit(f"{v.tag} at step {e.step} appears twice")
            got[key] = v.simple_value
    if versions != ["brain.Event:2"]:
        sys.exit(f"expected one file_version record 'brain.Event:2' first, got {versions}")
    want = expected(metrics_file, momentum)
    if set(got) != set(want):
        extra = sorted(set(got) - set(want))[:5]
        missing = sorted(set(want) - set(got))[:5]
        sys.exit(f"tags differ: in the events only {extra}, in metrics.jsonl only {missing}")
    for key, value in want.items():
        if got[key] != f32(value) and not (math.isnan(value) and math.isnan(got[key])):
            sys.exit(f"{key[0]} at step {key[1]}: events say {got[key]!r}, metrics.jsonl {value!r} (float32 {f32(value)!r})")
    print(json.dumps({"records": n, "values": len(got), "steps": len({s for _, s in got})}))


main()
