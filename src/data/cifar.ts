/**
 * The CIFAR-10 binary format: a batch file is a sequence of 3073-byte records, one label byte
 * (0–9) followed by 3072 pixel bytes (1024 R, 1024 G, 1024 B, each 32×32 row-major). The pixel
 * block is therefore already one CHW image, so images are copied as they are.
 */
import * as fs from 'fs';
import { REFETCH_HINT } from './idx';

export const CIFAR_IMAGE_BYTES = 3 * 32 * 32;
export const CIFAR_RECORD_BYTES = 1 + CIFAR_IMAGE_BYTES;
export const CIFAR_NUM_CLASSES = 10;

export interface CifarImages {
  count: number;
  /** count × 3072 bytes, NCHW (C = 3, H = W = 32). */
  images: Uint8Array;
  labels: Uint8Array;
}

/** Splits one batch file's bytes into images and labels; `file` is used in error messages. */
export function parseCifarBatch(buf: Uint8Array, file: string): CifarImages {
  const count = recordCount(buf.length, file);
  const images = new Uint8Array(count * CIFAR_IMAGE_BYTES);
  const labels = new Uint8Array(count);
  copyRecords(buf, file, images, labels, 0);
  return { count, images, labels };
}

function recordCount(bytes: number, file: string): number {
  if (bytes === 0 || bytes % CIFAR_RECORD_BYTES !== 0) {
    const whole = Math.floor(bytes / CIFAR_RECORD_BYTES);
    throw new Error(
      `${file}: ${bytes} bytes is not a whole number of ${CIFAR_RECORD_BYTES}-byte records ` +
        `(${whole} records and ${bytes - whole * CIFAR_RECORD_BYTES} bytes; an official batch has 10000 records = 30,730,000 bytes): ` +
        `the file is truncated or not a CIFAR-10 binary batch; ${REFETCH_HINT}`,
    );
  }
  return bytes / CIFAR_RECORD_BYTES;
}

/** Copies the records of `buf` into `images`/`labels` starting at image `offset`, checking labels. */
function copyRecords(buf: Uint8Array, file: string, images: Uint8Array, labels: Uint8Array, offset: number): void {
  const count = buf.length / CIFAR_RECORD_BYTES;
  for (let i = 0; i < count; i++) {
    const rec = i * CIFAR_RECORD_BYTES;
    const label = buf[rec];
    if (label >= CIFAR_NUM_CLASSES) {
      throw new Error(
        `${file}: record ${i} has label ${label}, outside 0…9: the file is corrupt, or is the CIFAR-100 binary format; ${REFETCH_HINT}`,
      );
    }
    labels[offset + i] = label;
    images.set(buf.subarray(rec + 1, rec + CIFAR_RECORD_BYTES), (offset + i) * CIFAR_IMAGE_BYTES);
  }
}

/**
 * Reads several batch files (e.g. data_batch_1…5.bin) into one contiguous set. The files' sizes
 * are checked first, so the result is allocated once and no file is read twice.
 */
export function readCifarBatches(files: readonly string[]): CifarImages {
  const counts = files.map((f) => recordCount(fs.statSync(f).size, f));
  const count = counts.reduce((a, b) => a + b, 0);
  const images = new Uint8Array(count * CIFAR_IMAGE_BYTES);
  const labels = new Uint8Array(count);
  let offset = 0;
  files.forEach((f, i) => {
    const buf = fs.readFileSync(f);
    // The size may have changed since stat (a download still writing it): check again.
    if (recordCount(buf.length, f) !== counts[i]) throw new Error(`${f}: changed size while being read; try again`);
    copyRecords(buf, f, images, labels, offset);
    offset += counts[i];
  });
  return { count, images, labels };
}

/** Encodes images and labels as a CIFAR-10 binary batch (used by tests). */
export function encodeCifarBatch(images: Uint8Array, labels: Uint8Array): Buffer {
  const count = labels.length;
  if (images.length !== count * CIFAR_IMAGE_BYTES) {
    throw new Error(`encodeCifarBatch: ${count} labels need ${count * CIFAR_IMAGE_BYTES} image bytes, got ${images.length}`);
  }
  const out = Buffer.alloc(count * CIFAR_RECORD_BYTES);
  for (let i = 0; i < count; i++) {
    out[i * CIFAR_RECORD_BYTES] = labels[i];
    out.set(images.subarray(i * CIFAR_IMAGE_BYTES, (i + 1) * CIFAR_IMAGE_BYTES), i * CIFAR_RECORD_BYTES + 1);
  }
  return out;
}
