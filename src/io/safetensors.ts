/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON
 * header {name: {dtype, shape, data_offsets}, __metadata__: {string: string}}, then raw bytes.
 * No pickle, readable from PyTorch with a few lines (scripts/safetensors_io.py). Writes are atomic and
 * verified (io/files.ts): a crash or a full disk never leaves half a checkpoint.
 */
import * as fs from 'fs';
import { DType } from '../graph/ir';
import { NamedTensor, TensorMap } from '../graph/tensors';
import { writeFileAtomic } from './files';

const CODE: Record<DType, string> = { float32: 'F32', float64: 'F64', int64: 'I64', bool: 'BOOL' };
const FROM_CODE: Record<string, DType> = { F32: 'float32', F64: 'float64', I64: 'int64', BOOL: 'bool' };
const BYTES: Record<DType, number> = { float32: 4, float64: 8, int64: 8, bool: 1 };

export function encodeSafetensors(tensors: TensorMap, metadata: Record<string, string> = {}): Buffer {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) throw new Error(`safetensors: tensor ${name} has ${t.data.length} values for shape [${t.shape}]`);
    header[name] = { dtype: CODE[t.dtype], shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const d = tensors.get(name)!.data;
    Buffer.from(d.buffer, d.byteOffset, d.byteLength).copy(out, at);
    at += d.byteLength;
  }
  return out;
}

export function decodeSafetensors(buf: Buffer, file = '<buffer>'): { tensors: TensorMap; metadata: Record<string, string> } {
  const bad = (what: string) => new Error(`${file}: not a valid safetensors file (${what}); it may be truncated or from another program — rewrite or re-export it`);
  if (buf.length < 8) throw bad('shorter than its 8-byte header length');
  const headerLength = Number(buf.readBigUInt64LE(0));
  if (headerLength > buf.length - 8) throw bad(`header of ${headerLength} bytes does not fit in ${buf.length} bytes`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLength).toString('utf8'));
  } catch {
    throw bad('header is not JSON');
  }
  const metadata = (header.__metadata__ ?? {}) as unknown as Record<string, string>;
  const base = 8 + headerLength;
  const tensors: TensorMap = new Map();
  let expectedEnd = 0;
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const dtype = FROM_CODE[info.dtype];
    if (!dtype) throw bad(`tensor ${name} has unsupported dtype ${info.dtype}`);
    const [begin, end] = info.data_offsets;
    const size = info.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== size * BYTES[dtype]) throw bad(`tensor ${name}: ${end - begin} bytes for shape [${info.shape}]`);
    if (base + end > buf.length) throw bad(`tensor ${name} ends at byte ${base + end}, past the end of the file (${buf.length} bytes)`);
    expectedEnd = Math.max(expectedEnd, end);
    // Copy into an aligned buffer: a typed array view needs its element alignment.
    const bytes = new Uint8Array(end - begin);
    bytes.set(buf.subarray(base + begin, base + end));
    const data =
      dtype === 'float32' ? new Float32Array(bytes.buffer) :
      dtype === 'float64' ? new Float64Array(bytes.buffer) :
      dtype === 'int64' ? new BigInt64Array(bytes.buffer) : bytes;
    tensors.set(name, { dtype, shape: info.shape, data });
  }
  if (base + expectedEnd !== buf.length) throw bad(`${buf.length - base - expectedEnd} unexpected trailing bytes`);
  return { tensors, metadata };
}

/** Writes a safetensors file atomically and verified (see io/files.ts): a checkpoint is whole or absent. */
export function writeSafetensors(file: string, tensors: TensorMap, metadata: Record<string, string> = {}): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}

export function readSafetensors(file: string): { tensors: TensorMap; metadata: Record<string, string> } {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  return decodeSafetensors(fs.readFileSync(file), file);
}

export const f32 = (shape: number[], data: Float32Array): NamedTensor => ({ dtype: 'float32', shape, data });
