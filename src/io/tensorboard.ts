/**
 * TensorBoard event files, written without TensorFlow: scalars, so `tensorboard --logdir runs`
 * shows a run next to its metrics.jsonl.
 *
 * An event file is a sequence of TFRecords: an 8-byte little-endian length, the masked CRC32C of
 * those 8 bytes, the data, the masked CRC32C of the data. Each record holds one `Event` proto; the
 * first says the file version ("brain.Event:2"), the others carry a `Summary` of tagged float
 * values at a step. Only the fields we write are declared below (field numbers as in
 * tensorflow/core/util/event.proto and framework/summary.proto), so a reader that knows the full
 * schema decodes them unchanged.
 *
 * Records are appended one write each, like metrics.jsonl; cutting a file back to a step (a
 * resumed run) rewrites it to a temporary file and renames it.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as protobuf from 'protobufjs';
import { writeFileAtomic } from './files';

const SCHEMA = `
syntax = "proto3";
message Event {
  double wall_time = 1;
  int64 step = 2;
  oneof what {
    string file_version = 3;
    Summary summary = 5;
  }
}
message Summary {
  message Value {
    string tag = 1;
    oneof value { float simple_value = 2; }
  }
  repeated Value value = 1;
}`;

const root = protobuf.parse(SCHEMA).root;
const EventType = root.lookupType('Event');

export const FILE_VERSION = 'brain.Event:2';

export interface TfEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  /** tag → value, as float32 (TensorBoard's simple_value). */
  scalars?: Record<string, number>;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1; // Castagnoli, reflected
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's mask: a rotation and an offset, so a CRC of bytes that hold CRCs is not degenerate. */
export function maskedCrc32c(data: Uint8Array): number {
  const c = crc32c(data);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

export function frameRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(16 + data.length);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

/** The records of a TFRecord file, each with the byte offset where it ends. Stops at a record cut short (a crash mid-write); a bad CRC is an error. */
export function readRecords(buf: Buffer, file: string): { data: Buffer; end: number }[] {
  const records: { data: Buffer; end: number }[] = [];
  let at = 0;
  while (at + 12 <= buf.length) {
    const length = Number(buf.readBigUInt64LE(at));
    if (buf.readUInt32LE(at + 8) !== maskedCrc32c(buf.subarray(at, at + 8))) throw new Error(`${file}: bad length CRC at byte ${at}; the file is damaged (delete it: it holds a copy of metrics.jsonl)`);
    const end = at + 12 + length + 4;
    if (end > buf.length) break;
    const data = buf.subarray(at + 12, at + 12 + length);
    if (buf.readUInt32LE(at + 12 + length) !== maskedCrc32c(data)) throw new Error(`${file}: bad data CRC in the record at byte ${at}; the file is damaged (delete it: it holds a copy of metrics.jsonl)`);
    records.push({ data, end });
    at = end;
  }
  return records;
}

export function encodeEvent(e: TfEvent): Uint8Array {
  const msg: Record<string, unknown> = { wallTime: e.wallTime, step: e.step };
  if (e.fileVersion !== undefined) msg.fileVersion = e.fileVersion;
  if (e.scalars) msg.summary = { value: Object.entries(e.scalars).map(([tag, simpleValue]) => ({ tag, simpleValue })) };
  return EventType.encode(EventType.fromObject(msg)).finish();
}

export function decodeEvent(data: Uint8Array): TfEvent {
  const m = EventType.toObject(EventType.decode(data), { longs: Number }) as {
    wallTime?: number; step?: number; fileVersion?: string; summary?: { value?: { tag: string; simpleValue?: number }[] };
  };
  const e: TfEvent = { wallTime: m.wallTime ?? 0, step: m.step ?? 0 };
  if (m.fileVersion !== undefined) e.fileVersion = m.fileVersion;
  if (m.summary) e.scalars = Object.fromEntries((m.summary.value ?? []).map((v) => [v.tag, v.simpleValue ?? 0]));
  return e;
}

export function readEvents(file: string): TfEvent[] {
  return readRecords(fs.readFileSync(file), file).map((r) => decodeEvent(r.data));
}

const PREFIX = 'events.out.tfevents.';

/** The event file in `dir`, if there is one (a writer keeps using it when a run resumes). */
export function eventFileIn(dir: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const name = fs.readdirSync(dir).filter((n) => n.startsWith(PREFIX) && !n.endsWith('.tmp')).sort()[0];
  return name && path.join(dir, name);
}

/** Appends scalar events to the one event file of a directory (created with its version record on first use). */
export class EventWriter {
  readonly file: string;
  /** True when this writer started the file (there was none in the directory). */
  readonly created: boolean;

  constructor(dir: string, private readonly clock: () => number = Date.now) {
    const existing = eventFileIn(dir);
    // TensorBoard's own naming: events.out.tfevents.<seconds>.<host>.
    this.file = existing ?? path.join(dir, `${PREFIX}${Math.floor(clock() / 1000)}.${os.hostname()}`);
    this.created = !existing;
    if (this.created) writeFileAtomic(this.file, frameRecord(encodeEvent({ wallTime: clock() / 1000, step: 0, fileVersion: FILE_VERSION })));
  }

  scalars(step: number, values: Record<string, number>): void {
    fs.appendFileSync(this.file, frameRecord(encodeEvent({ wallTime: this.clock() / 1000, step, scalars: values })));
  }

  /** Drops the events after `step`, and any record cut short, keeping the wall times of the rest. */
  /** Keeps the version record and the events of steps before `step`. */
  truncateBefore(step: number): void {
    const buf = fs.readFileSync(this.file);
    let keep = 0;
    for (const r of readRecords(buf, this.file)) {
      const e = decodeEvent(r.data);
      if (e.fileVersion === undefined && e.step >= step) break;
      keep = r.end;
    }
    if (keep < buf.length) writeFileAtomic(this.file, buf.subarray(0, keep));
  }
}
