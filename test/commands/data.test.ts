/** `ilr data list` and `ilr data download`, run as the CLI against local files and a loopback server. */
import * as fs from 'fs';
import * as path from 'path';
import { runCli } from '../cli';
import { rmrf, startServer, TestServer, tmpDir, writeCifarSet, writeIdxSet } from '../data/helpers';

let work: string;
let server: TestServer;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  work = tmpDir('ilr-data-cli-');
  const served = writeIdxSet(path.join(work, 'served'), { train: 30, test: 10 });
  const files: Record<string, Buffer> = {};
  for (const [name, data] of Object.entries(served)) files[`/mirror/mnist/${name}`] = data;
  server = await startServer(files);
  // Nothing from the user's environment: an empty cache, no ILR_DATA_DIR, the loopback mirror.
  env = { ILR_CACHE_DIR: path.join(work, 'cache'), ILR_DATA_DIR: '', ILR_DATA_MIRROR: `${server.baseUrl}/mirror/` };
});
afterAll(async () => {
  await server.close();
  rmrf(work);
});

describe('ilr data list', () => {
  it('shows each data set, where each split is found and what was searched', async () => {
    const dir = path.join(work, 'mine');
    writeIdxSet(path.join(dir, 'mnist'));
    const r = await runCli(['data', 'list', '--data-dir', dir], env);
    expect(r.code).toBe(0);
    const out = r.stdout;
    for (const name of ['fashion-mnist', 'mnist', 'cifar10']) expect(out).toMatch(new RegExp(`^${name}  `, 'm'));
    const mnist = out.slice(out.indexOf('\nmnist  '), out.indexOf('\ncifar10  '));
    expect(mnist).toContain(`train ${path.join(dir, 'mnist')} (option)`);
    expect(mnist).toContain(`test  ${path.join(dir, 'mnist')} (option)`);
    expect(mnist).toContain(`searched: ${dir} (option)`);
    const cifar = out.slice(out.indexOf('\ncifar10  '));
    expect(cifar).toContain(`not found (would download from ${server.baseUrl}/mirror/cifar10/cifar-10-binary.tar.gz)`);
    expect(cifar).toContain(`${path.join(work, 'cache', 'cifar10')} (cache)`);
    expect(fs.existsSync(path.join(work, 'cache'))).toBe(false); // a listing never downloads
  });
});

describe('ilr data download', () => {
  it('verifies CIFAR-10 files already extracted in --dir without fetching anything', async () => {
    const dir = path.join(work, 'cifar');
    writeCifarSet(dir, 4);
    const before = server.requests.length;
    const r = await runCli(['data', 'download', 'cifar10', '--dir', dir, '--no-progress'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/data_batch_1\.bin .* sha256 [0-9a-f]{64}  verified in place/);
    expect(r.stdout).toContain(`cifar10: 6 files in ${dir}`);
    expect(fs.existsSync(path.join(dir, 'checksums.json'))).toBe(true);
    expect(server.requests.length).toBe(before);
  });

  it('fetches from the mirror and refuses files whose MD5 is not the published one', async () => {
    const dir = path.join(work, 'mnist-dl');
    const r = await runCli(['data', 'download', 'mnist', '--dir', dir, '--no-progress'], env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/checksum mismatch for train-images-idx3-ubyte\.gz from http:\/\/127\.0\.0\.1:\d+\/mirror\/mnist\/train-images-idx3-ubyte\.gz/);
    expect(r.stderr).toContain('The download was deleted');
    expect(server.requests.some((q) => q.url === '/mirror/mnist/train-images-idx3-ubyte.gz')).toBe(true);
    // Nothing unverified is left behind (the directory it created is removed again).
    expect(fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.gz')) : []).toEqual([]);
  });

  it('an unknown name or a missing name is a usage error listing the choices', async () => {
    const r = await runCli(['data', 'download', 'imagenet'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid values:\s+Argument: name, Given: "imagenet", Choices: "fashion-mnist", "mnist", "cifar10"/);
    const none = await runCli(['data'], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/list|download/);
  });
});
