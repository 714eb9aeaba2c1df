/**
 * The IDX format of MNIST and Fashion-MNIST: a big-endian header (two zero bytes, a type code,
 * the number of dimensions, then one uint32 per dimension) followed by the raw values.
 * Only unsigned bytes (type 0x08) occur in these data sets, so only they are accepted.
 * Files may be gzipped or not; the gzip magic decides, not the file name.
 */
import * as fs from 'fs';
import * as zlib from 'zlib';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const IDX_UBYTE = 0x08;

/** Where a reader's error message tells the user to look for a fix. */
export const REFETCH_HINT =
  'replace it with an intact copy (delete it and run `ilr data download` for its data set; `ilr data list` shows where files are looked for)';

export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/** Decompresses if gzipped; a truncated or corrupt stream is an error that names the file. */
export function maybeGunzip(buf: Buffer, file: string): Buffer {
  if (!isGzip(buf)) return buf;
  try {
    return zlib.gunzipSync(buf);
  } catch (e) {
    throw new Error(`${file}: corrupt or truncated gzip data (${(e as Error).message}); ${REFETCH_HINT}`);
  }
}

/** Parses an IDX buffer (already decompressed). `file` is only used in error messages. */
export function parseIdx(buf: Uint8Array, file: string): IdxArray {
  if (buf.length < 4) {
    throw new Error(`${file}: ${buf.length} bytes is too short for an IDX header; ${REFETCH_HINT}`);
  }
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw new Error(
      `${file}: not an IDX file (magic ${hex(buf, 4)}, expected 00 00 08 0N)` +
        (isGzip(buf) ? ' — it is still gzipped' : '') + `; ${REFETCH_HINT}`,
    );
  }
  if (buf[2] !== IDX_UBYTE) {
    throw new Error(`${file}: IDX type code 0x${buf[2].toString(16)} is not unsigned byte (0x08); ${REFETCH_HINT}`);
  }
  const ndims = buf[3];
  if (ndims < 1 || ndims > 4) {
    throw new Error(`${file}: IDX header claims ${ndims} dimensions (expected 1 to 4); ${REFETCH_HINT}`);
  }
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes) {
    throw new Error(`${file}: truncated IDX header (${buf.length} of ${headerBytes} bytes); ${REFETCH_HINT}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const n = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + n;
  if (buf.length !== expected) {
    const what = buf.length < expected ? 'truncated' : 'has trailing bytes';
    throw new Error(
      `${file}: ${what}: header says ${dims.join('×')} values (${expected} bytes), file has ${buf.length} bytes; ${REFETCH_HINT}`,
    );
  }
  return { dims, data: buf.subarray(headerBytes, expected) };
}

/** Reads an IDX file, gzipped or not. */
export function readIdxFile(file: string): IdxArray {
  return parseIdx(maybeGunzip(fs.readFileSync(file), file), file);
}

export interface LabelledImages {
  count: number;
  rows: number;
  cols: number;
  /** count × rows × cols bytes, image after image, row-major. */
  images: Uint8Array;
  labels: Uint8Array;
}

/**
 * Reads an images file (3 dimensions: count, rows, cols) and its labels file (1 dimension) and
 * checks that they agree and that every label is below `numClasses`.
 */
export function readIdxPair(imagesFile: string, labelsFile: string, numClasses: number): LabelledImages {
  const img = readIdxFile(imagesFile);
  if (img.dims.length !== 3) {
    throw new Error(
      `${imagesFile}: expected an images file (3 dimensions: count, rows, cols), got dimensions ${img.dims.join('×')}; ` +
        'are the images and labels files swapped?',
    );
  }
  const lab = readIdxFile(labelsFile);
  if (lab.dims.length !== 1) {
    throw new Error(
      `${labelsFile}: expected a labels file (1 dimension), got dimensions ${lab.dims.join('×')}; are the images and labels files swapped?`,
    );
  }
  const [count, rows, cols] = img.dims;
  if (lab.dims[0] !== count) {
    throw new Error(
      `${labelsFile}: ${lab.dims[0]} labels for ${count} images in ${imagesFile}; the two files are from different sets or one is damaged; ${REFETCH_HINT}`,
    );
  }
  checkLabels(lab.data, numClasses, labelsFile);
  return { count, rows, cols, images: img.data, labels: lab.data };
}

export function checkLabels(labels: Uint8Array, numClasses: number, file: string): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= numClasses) {
      throw new Error(`${file}: label ${labels[i]} at index ${i} is out of range 0…${numClasses - 1}; ${REFETCH_HINT}`);
    }
  }
}

/** Encodes an IDX file of unsigned bytes (used by tests and by tools that write subsets). */
export function encodeIdx(dims: number[], data: Uint8Array): Buffer {
  const n = dims.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new Error(`encodeIdx: dims ${dims.join('×')} need ${n} values, got ${data.length}`);
  const out = Buffer.alloc(4 + 4 * dims.length + n);
  out[2] = IDX_UBYTE;
  out[3] = dims.length;
  dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

function hex(buf: Uint8Array, n: number): string {
  return Array.from(buf.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
}
