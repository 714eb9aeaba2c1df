/**
 * Where a real data set's files come from, in this order:
 *   1. an explicit directory (`dataDir` option, CLI `--data-dir`),
 *   2. the environment variable ILR_DATA_DIR,
 *   3. the system location (Debian's /usr/share/datasets/fashion-mnist for Fashion-MNIST),
 *   4. the cache, ~/.cache/intrinsic-lr/<name> (ILR_CACHE_DIR replaces ~/.cache/intrinsic-lr),
 *   5. a download from the official location into the cache, checksum-verified.
 * A directory D given in 1 or 2 may hold the files itself or in D/<name>/ (and, for CIFAR-10,
 * in a cifar-10-batches-bin/ below either), so one ILR_DATA_DIR can serve every data set.
 *
 * Downloads fetch from the official base URL unless `baseUrl` (this data set only) or
 * ILR_DATA_MIRROR (a root: files are fetched from `$ILR_DATA_MIRROR/<name>/<file>`) says
 * otherwise. The MD5s the data sets publish are verified; a SHA-256 of every accepted file is
 * recorded in `<dir>/checksums.json`.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import {
  CIFAR_ARCHIVE_DIR, CIFAR_META_FILE, CIFAR_TEST_FILES, CIFAR_TRAIN_FILES, DatasetInfo, PublishedFile,
  REAL_DATASET_NAMES, RealDatasetName, Split, datasetInfo,
} from './catalog';
import { HttpStatusError, InterruptedDownload, fetchToPart } from './fetch';
import { extractTar } from './tar';
import { formatBytes } from '../util/progress';

export type Origin = 'option' | 'env' | 'system' | 'cache';

export interface SourceOptions {
  /** A directory given explicitly (CLI `--data-dir`). If set, it must hold the files. */
  dataDir?: string;
  /** Download into the cache when the files are found nowhere (default true). */
  download?: boolean;
  /** Environment to read ILR_DATA_DIR, ILR_CACHE_DIR, ILR_DATA_MIRROR from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface DownloadOptions {
  /** Target directory (default: the cache directory of the data set). */
  dir?: string;
  /** Base URL of this data set's files, replacing the official one and ILR_DATA_MIRROR. */
  baseUrl?: string;
  /** File name → expected MD5, replacing the published table (tests serve generated files). */
  checksums?: Readonly<Record<string, string>>;
  /** Progress bar on stderr (default true). */
  progress?: boolean;
  /** How many times an interrupted transfer is resumed within this call (default 3). */
  retries?: number;
  /** Pause before a retry, in ms (default 1000 × attempt). */
  retryDelayMs?: number;
  idleTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** The files of one split as found on disk: required name → actual path (maybe `.gz`). */
export type FoundFiles = Record<string, string>;

export interface Located {
  origin: Origin | 'download';
  dir: string;
  files: FoundFiles;
}

export interface Candidate {
  origin: Origin;
  dir: string;
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.ILR_CACHE_DIR || path.join(os.homedir(), '.cache', 'intrinsic-lr');
}

export function cacheDir(name: RealDatasetName, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheRoot(env), name);
}

/** The base URL files are downloaded from, after the option and ILR_DATA_MIRROR. */
export function baseUrlFor(name: RealDatasetName, opts: { baseUrl?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const env = opts.env ?? process.env;
  const base = opts.baseUrl ?? (env.ILR_DATA_MIRROR ? `${env.ILR_DATA_MIRROR.replace(/\/+$/, '')}/${name}/` : datasetInfo(name).baseUrl);
  return base.endsWith('/') ? base : `${base}/`;
}

/** The directories searched, in order (the expansions of a data dir are in `expandDir`). */
export function candidates(name: RealDatasetName, opts: SourceOptions = {}): Candidate[] {
  const env = opts.env ?? process.env;
  const info = datasetInfo(name);
  const out: Candidate[] = [];
  if (opts.dataDir) out.push({ origin: 'option', dir: path.resolve(opts.dataDir) });
  if (env.ILR_DATA_DIR) out.push({ origin: 'env', dir: path.resolve(env.ILR_DATA_DIR) });
  if (info.systemDir) out.push({ origin: 'system', dir: info.systemDir });
  out.push({ origin: 'cache', dir: cacheDir(name, env) });
  return out;
}

/** A data dir may hold the files itself, in <name>/, or (CIFAR-10) in cifar-10-batches-bin/. */
function expandDir(dir: string, info: DatasetInfo): string[] {
  const dirs = [dir, path.join(dir, info.name)];
  if (info.format === 'cifar') return dirs.flatMap((d) => [d, path.join(d, CIFAR_ARCHIVE_DIR)]);
  return dirs;
}

/** The split's files in `dir`, or null if any is missing. IDX files may be raw or `.gz`. */
export function findSplitFiles(dir: string, info: DatasetInfo, split: Split): FoundFiles | null {
  const found: FoundFiles = {};
  for (const name of info.splitFiles[split]) {
    const options = info.format === 'idx' ? [name, `${name}.gz`] : [name];
    const hit = options.map((n) => path.join(dir, n)).find(isFile);
    if (!hit) return null;
    found[name] = hit;
  }
  return found;
}

/**
 * The first candidate directory that holds the split, or null. An explicit `dataDir` without
 * the files throws, unless `strictDataDir` is false (listings just move on).
 */
export function findDataset(name: RealDatasetName, split: Split, opts: SourceOptions = {}, strictDataDir = true): Located | null {
  const info = datasetInfo(name);
  for (const c of candidates(name, opts)) {
    for (const dir of expandDir(c.dir, info)) {
      const files = findSplitFiles(dir, info, split);
      if (files) return { origin: c.origin, dir, files };
    }
    if (c.origin === 'option' && strictDataDir) {
      // An explicit directory that lacks the files is a mistake to report, not to skip.
      throw new Error(
        `${name} (${split}) not found in --data-dir ${c.dir} (also looked in ${expandDir(c.dir, info).slice(1).join(', ')}). ` +
          `It needs: ${requiredNames(info, split).join(', ')}.`,
      );
    }
  }
  return null;
}

/** Finds the split's files, downloading them into the cache if allowed and needed. */
export async function locateDataset(
  name: RealDatasetName, split: Split, opts: SourceOptions & DownloadOptions = {},
): Promise<Located> {
  const found = findDataset(name, split, opts);
  if (found) return found;
  const env = opts.env ?? process.env;
  if (opts.download === false) throw new Error(missingMessage(name, split, opts));
  const result = await downloadDataset(name, { ...opts, dir: opts.dir ?? cacheDir(name, env) });
  const files = findSplitFiles(result.dir, datasetInfo(name), split);
  if (!files) throw new Error(`${name}: download finished but ${result.dir} lacks the ${split} files; ${missingMessage(name, split, opts)}`);
  return { origin: 'download', dir: result.dir, files };
}

function requiredNames(info: DatasetInfo, split: Split): string[] {
  return info.splitFiles[split].map((n) => (info.format === 'idx' ? `${n}[.gz]` : n));
}

/** What to do when a data set is nowhere: which files to place where, where to get them. */
export function missingMessage(name: RealDatasetName, split: Split | 'all', opts: SourceOptions & DownloadOptions = {}): string {
  const info = datasetInfo(name);
  const env = opts.env ?? process.env;
  const dir = opts.dir ?? cacheDir(name, env);
  const base = baseUrlFor(name, opts);
  const looked = candidates(name, opts).map((c) => `${c.dir} (${c.origin})`).join(', ');
  const splits: Split[] = split === 'all' ? ['train', 'test'] : [split];
  const needed = splits.flatMap((s) => info.splitFiles[s]);
  const lines = [`${name} ${split === 'all' ? '' : `(${split}) `}was not found. Looked in: ${looked}.`];
  if (info.format === 'idx') {
    lines.push(`Place these files (gzipped or not) in ${dir}, or in a directory given with --data-dir or ILR_DATA_DIR:`);
    for (const f of info.published.filter((p) => needed.some((n) => p.name.startsWith(n)))) {
      lines.push(`  ${f.name}  from ${base}${f.name}  (MD5 ${opts.checksums?.[f.name] ?? f.md5})`);
    }
  } else {
    const archive = info.published[0];
    lines.push(
      `Place ${needed.join(', ')} (from the ${CIFAR_ARCHIVE_DIR}/ folder of ${archive.name}) in ${dir}, ` +
        `or in a directory given with --data-dir or ILR_DATA_DIR;`,
      `or place ${archive.name} itself (from ${base}${archive.name}, MD5 ${opts.checksums?.[archive.name] ?? archive.md5}) ` +
        `in ${dir} and run \`ilr data download ${name}\` to verify and extract it.`,
    );
  }
  lines.push(`With network access, \`ilr data download ${name}\` fetches them (ILR_DATA_MIRROR=<url> uses a mirror).`);
  return lines.join('\n');
}

export interface DownloadedFile {
  name: string;
  path: string;
  bytes: number;
  md5: string;
  sha256: string;
  /** True when a verified copy was already there and nothing was fetched. */
  reused: boolean;
}

export interface DownloadResult {
  name: RealDatasetName;
  dir: string;
  files: DownloadedFile[];
}

/** Fetches (or verifies what is already there) all files of a data set into `opts.dir`. */
export async function downloadDataset(name: RealDatasetName, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const info = datasetInfo(name);
  const env = opts.env ?? process.env;
  const dir = path.resolve(opts.dir ?? cacheDir(name, env));
  const created = !fs.existsSync(dir);
  fs.mkdirSync(dir, { recursive: true });
  try {
    if (info.format === 'idx') {
      const files: DownloadedFile[] = [];
      for (const f of info.published) files.push(await fetchVerified(info, f, dir, opts));
      return { name, dir, files };
    }
    return await downloadCifar(info, dir, opts);
  } catch (e) {
    // Leave no empty directory behind (a .part file to resume from keeps it).
    if (created && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
    throw e;
  }
}

async function downloadCifar(info: DatasetInfo, dir: string, opts: DownloadOptions): Promise<DownloadResult> {
  const wanted = [...CIFAR_TRAIN_FILES, ...CIFAR_TEST_FILES];
  if (wanted.every((f) => isFile(path.join(dir, f)))) {
    // Extracted earlier (or placed by hand): nothing to fetch. No checksums are published for
    // the members, so the readers' structural checks are what verifies them.
    const manifest = readManifest(dir);
    const files: DownloadedFile[] = [];
    for (const f of wanted) {
      const p = path.join(dir, f);
      const sums = manifest[f] ?? (await hashFile(p));
      if (!manifest[f]) recordInManifest(dir, f, { ...sums, source: 'found in place' });
      files.push({ name: f, path: p, bytes: sums.bytes, md5: sums.md5, sha256: sums.sha256, reused: true });
    }
    return { name: info.name, dir, files };
  }
  const archive = await fetchVerified(info, info.published[0], dir, opts);
  const keep = new Set([...wanted, CIFAR_META_FILE]);
  const written = await extractTar(
    fs.createReadStream(archive.path).pipe(zlib.createGunzip()),
    dir,
    (member) => {
      const [top, file, ...rest] = member.split('/');
      return top === CIFAR_ARCHIVE_DIR && rest.length === 0 && keep.has(file) ? file : null;
    },
    archive.path,
  ).catch((e: Error) => {
    throw new Error(`${e.message} (while extracting ${info.name})`);
  });
  const missing = wanted.filter((f) => !written.includes(path.join(dir, f)));
  if (missing.length > 0) {
    throw new Error(
      `${archive.path}: the archive lacks ${missing.map((m) => `${CIFAR_ARCHIVE_DIR}/${m}`).join(', ')}; it is not the CIFAR-10 binary version`,
    );
  }
  const files: DownloadedFile[] = [];
  for (const f of wanted) {
    const p = path.join(dir, f);
    const sums = await hashFile(p);
    recordInManifest(dir, f, { ...sums, source: `${archive.name}:${CIFAR_ARCHIVE_DIR}/${f}` });
    files.push({ name: f, path: p, ...sums, reused: false });
  }
  fs.rmSync(archive.path, { force: true }); // 170 MB, and the extracted files are verified
  return { name: info.name, dir, files: [archive, ...files] };
}

/**
 * Makes `<dir>/<file.name>` a verified copy: reuses a file already there if its MD5 matches,
 * otherwise downloads into `.part` (resuming), verifies, and renames. A mismatch deletes the
 * download and throws.
 */
async function fetchVerified(info: DatasetInfo, file: PublishedFile, dir: string, opts: DownloadOptions): Promise<DownloadedFile> {
  const expected = (opts.checksums?.[file.name] ?? file.md5).toLowerCase();
  const target = path.join(dir, file.name);
  const part = `${target}.part`;
  if (isFile(target)) {
    const sums = await hashFile(target);
    if (sums.md5 === expected) {
      recordInManifest(dir, file.name, { ...sums, source: 'found in place' });
      return { name: file.name, path: target, ...sums, reused: true };
    }
    // A copy with the wrong content (e.g. Debian's re-compressed files): fetch a fresh one;
    // the existing file is only replaced once the new one is verified.
  }
  const url = `${baseUrlFor(info.name, opts)}${file.name}`;
  const retries = opts.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    try {
      await fetchToPart(url, part, {
        label: `${info.name}: ${file.name}`,
        expectedSize: file.size,
        progress: opts.progress,
        idleTimeoutMs: opts.idleTimeoutMs,
      });
      break;
    } catch (e) {
      if (e instanceof HttpStatusError) {
        throw new Error(`could not download ${info.name}: ${e.message}.\n${missingMessage(info.name, 'all', { ...opts, dir })}`);
      }
      if (attempt >= retries) {
        const cause = e instanceof InterruptedDownload ? e.message : `${url}: ${(e as Error).message}`;
        throw new Error(`could not download ${info.name}: ${cause}.\n${missingMessage(info.name, 'all', { ...opts, dir })}`);
      }
      await sleep(opts.retryDelayMs ?? 1000 * (attempt + 1));
    }
  }
  const sums = await hashFile(part);
  if (sums.md5 !== expected) {
    fs.rmSync(part, { force: true });
    throw new Error(
      `checksum mismatch for ${file.name} from ${url}: MD5 ${sums.md5}, expected ${expected} (${formatBytes(sums.bytes)} received). ` +
        'The download was deleted. The server may hold a different or damaged version: try again later or use another mirror (ILR_DATA_MIRROR).',
    );
  }
  fs.renameSync(part, target);
  recordInManifest(dir, file.name, { ...sums, source: url });
  return { name: file.name, path: target, ...sums, reused: false };
}

export interface FileSums {
  bytes: number;
  md5: string;
  sha256: string;
}

/** MD5 and SHA-256 of a file in one streaming pass. */
export async function hashFile(file: string): Promise<FileSums> {
  const md5 = crypto.createHash('md5');
  const sha = crypto.createHash('sha256');
  let bytes = 0;
  for await (const chunk of fs.createReadStream(file) as AsyncIterable<Buffer>) {
    md5.update(chunk);
    sha.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, md5: md5.digest('hex'), sha256: sha.digest('hex') };
}

const MANIFEST = 'checksums.json';

interface ManifestEntry extends FileSums {
  source: string;
  verified: string;
}

export function readManifest(dir: string): Record<string, ManifestEntry> {
  const p = path.join(dir, MANIFEST);
  if (!isFile(p)) return {};
  try {
    return JSON.parse(fs.readFileSync(p, 'utf8'));
  } catch {
    return {}; // A damaged manifest only costs a re-verification.
  }
}

function recordInManifest(dir: string, file: string, entry: FileSums & { source: string }): void {
  const m = readManifest(dir);
  m[file] = { ...entry, verified: new Date().toISOString() };
  const tmp = path.join(dir, `${MANIFEST}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(m, null, 2) + '\n');
  fs.renameSync(tmp, path.join(dir, MANIFEST));
}

export interface DatasetListing {
  name: RealDatasetName;
  title: string;
  /** Where loading would read each split from now (null: not found, would be downloaded). */
  found: Record<Split, Located | null>;
  searched: Candidate[];
  url: string;
}

/** What is found where, for `ilr data list`. Never downloads. */
export function listDatasets(opts: SourceOptions = {}): DatasetListing[] {
  return REAL_DATASET_NAMES.map((name) => {
    const info = datasetInfo(name);
    return {
      name,
      title: info.title,
      // A --data-dir without this data set is fine for a listing: it shows what else is found.
      found: { train: findDataset(name, 'train', opts, false), test: findDataset(name, 'test', opts, false) },
      searched: candidates(name, opts),
      url: `${baseUrlFor(name, opts)}${info.published.length === 1 ? info.published[0].name : ''}`,
    };
  });
}

/** The listing as text lines. */
export function formatDatasetList(list: DatasetListing[]): string {
  const lines: string[] = [];
  for (const d of list) {
    lines.push(`${d.name}  ${d.title}`);
    for (const split of ['train', 'test'] as const) {
      const f = d.found[split];
      lines.push(`  ${split.padEnd(5)} ${f ? `${f.dir} (${f.origin})` : `not found (would download from ${d.url})`}`);
    }
    lines.push(`  searched: ${d.searched.map((c) => `${c.dir} (${c.origin})`).join(', ')}`);
  }
  return lines.join('\n');
}

/**
 * Verifies a located copy by the SHA-256 of its decompressed content, where docs/data.md gives
 * them (Fashion-MNIST: Debian's re-compressed .gz files differ from the official ones, their
 * content does not). Returns a list of problems (empty: all good, or nothing to check).
 */
export function verifyContent(name: RealDatasetName, located: Located): string[] {
  const known = datasetInfo(name).contentSha256;
  if (!known) return [];
  const problems: string[] = [];
  for (const [file, p] of Object.entries(located.files)) {
    const want = known[file];
    if (!want) continue;
    const buf = fs.readFileSync(p);
    const content = buf[0] === 0x1f && buf[1] === 0x8b ? zlib.gunzipSync(buf) : buf;
    const got = crypto.createHash('sha256').update(content).digest('hex');
    if (got !== want) problems.push(`${p}: content SHA-256 ${got}, expected ${want}`);
  }
  return problems;
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
