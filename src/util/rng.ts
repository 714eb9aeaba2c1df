/**
 * A small, seeded, platform-independent random number generator.
 *
 * Algorithm: xoshiro128** (Blackman & Vigna) on four 32-bit words, which JavaScript computes
 * exactly with `Math.imul` and 32-bit shifts, so a seed gives the same stream on every machine
 * and node version. Its state is seeded by hashing the seed "parts" (numbers and strings) with
 * a murmur3-style mixer, so related seeds (`[seed, epoch]` and `[seed, epoch + 1]`) give
 * unrelated streams.
 *
 * Why seed from parts instead of saving RNG state: a stream derived from, say,
 * `(seed, 'order', epoch)` can be recreated at any point of a run, so resuming needs nothing but
 * the run's seed and position. The data order, augmentation and model initialisation all use
 * this.
 *
 * Changing anything here changes every seeded result of the project (initialisations, subsets,
 * batch orders); `test/data/rng.test.ts` pins the first outputs so that cannot happen silently.
 */

export type SeedPart = number | string;
export type Seed = SeedPart | readonly SeedPart[];

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

/** murmur3's 32-bit finaliser: a bijection that spreads every input bit over the output. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The 32-bit words that stand for one seed part (type-tagged so 1 and "1" differ). */
function partWords(part: SeedPart): number[] {
  if (typeof part === 'number') {
    if (!Number.isSafeInteger(part)) {
      throw new Error(`seed parts must be safe integers or strings, got ${part}`);
    }
    const neg = part < 0 ? 1 : 0;
    const abs = Math.abs(part);
    return [0x6e756d00 | neg, abs >>> 0, Math.floor(abs / TWO_POW_32) >>> 0];
  }
  const bytes = Buffer.from(part, 'utf8');
  const words = [0x73747200, bytes.length];
  for (const b of bytes) words.push(b);
  return words;
}

/** Hashes seed parts into a 128-bit xoshiro state (never all zero). */
export function seedState(seed: Seed): [number, number, number, number] {
  const parts: readonly SeedPart[] = Array.isArray(seed) ? (seed as readonly SeedPart[]) : [seed as SeedPart];
  let a = 0x243f6a88, b = 0x85a308d3, c = 0x13198a2e, d = 0x03707344; // digits of π
  for (const part of parts) {
    for (const w of partWords(part)) {
      a = fmix32((a ^ w) + 0x9e3779b9);
      b = fmix32(b + a);
      c = fmix32(c ^ b);
      d = fmix32(d + c);
    }
  }
  // One more round so that the last word reaches every state word.
  a = fmix32(a ^ d); b = fmix32(b + a); c = fmix32(c ^ b); d = fmix32(d + c);
  if ((a | b | c | d) === 0) a = 1;
  return [a >>> 0, b >>> 0, c >>> 0, d >>> 0];
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** The second value of the last Box–Muller pair, handed out by the next `normal()`. */
  private spare: number | null = null;

  /** `new Rng(42)`, `new Rng([seed, 'order', epoch])`: equal seeds give equal streams. */
  constructor(seed: Seed) {
    [this.s0, this.s1, this.s2, this.s3] = seedState(seed);
  }

  /** A new, independent generator for a named purpose, derived from this one's next outputs. */
  fork(...label: SeedPart[]): Rng {
    return new Rng([this.uint32(), this.uint32(), ...label]);
  }

  /** The next 32 random bits as an unsigned integer. */
  uint32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits (every double of the form k / 2^53). */
  uniform(): number;
  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number;
  uniform(lo = 0, hi = 1): number {
    const u = ((this.uint32() >>> 5) * 67108864 + (this.uint32() >>> 6)) / TWO_POW_53;
    return lo + (hi - lo) * u;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling), for 1 <= n <= 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new Error(`Rng.int(n) needs an integer 1 <= n <= 2^32, got ${n}`);
    }
    // Reject the top partial block of 2^32 so that every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.uint32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal (or N(mean, std²)) by Box–Muller; each pair of uniforms gives two values. */
  normal(mean = 0, std = 1): number {
    let z: number;
    if (this.spare !== null) {
      z = this.spare;
      this.spare = null;
    } else {
      // 1 - uniform() lies in (0, 1], so the log is finite.
      const r = Math.sqrt(-2 * Math.log(1 - this.uniform()));
      const theta = 2 * Math.PI * this.uniform();
      z = r * Math.cos(theta);
      this.spare = r * Math.sin(theta);
    }
    return mean + std * z;
  }

  /** Fills `out` with N(mean, std²) samples (float32 rounding of the float64 draws). */
  fillNormal<T extends Float32Array | Float64Array>(out: T, mean = 0, std = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }

  /** Shuffles in place (Fisher–Yates) and returns the same array. */
  shuffle<T extends { length: number; [i: number]: any }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /** A uniformly random permutation of 0 … n-1. */
  permutation(n: number): Uint32Array {
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
