/**
 * One run directory, two processes: the second is refused, naming the PID that holds the run;
 * a lock left by a process that was killed is taken over by the next one.
 */
import * as fs from 'fs';
import * as path from 'path';
import { lockFile, runFiles } from '../../src/train/run-dir';
import { finished, runCli, startCli, tmpDir, writeConfig } from '../cli';
import { faultConfig, leftovers, outcome, resumeArgs, trainArgs, waitFor } from './harness';

let dir: string;
let config: string;
beforeAll(() => {
  dir = tmpDir('ilr-lock-');
  config = writeConfig(dir, 'config.json', faultConfig());
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('two `ilr train` with the same --out started together: one trains, the other is refused, naming the PID of the first', async () => {
  const run = path.join(dir, 'together');
  const children = [startCli(trainArgs(config, run)), startCli(trainArgs(config, run))];
  const results = await Promise.all(children.map(finished));
  const winners = results.filter((r) => r.code === 0);
  expect(winners.length).toBe(1);
  const winner = children[results.indexOf(winners[0])];
  const loser = results.find((r) => r.code !== 0)!;
  // Refused while the winner trained, or (if it came very late) because the run was there already.
  expect(loser.stderr).toMatch(new RegExp(`in use by process ${winner.pid} |already holds a run`));
  expect(leftovers(run)).toEqual([]);
});

it('a second start and a --resume while a run is live are refused with its PID; once it is killed, its stale lock is taken over and the run resumes to the same bytes', async () => {
  const run = path.join(dir, 'live');
  const owner = startCli(trainArgs(config, run));
  const ownerDone = finished(owner);
  await waitFor(runFiles(run).config, owner);
  owner.kill('SIGSTOP'); // alive, holding the lock, for as long as the test needs
  try {
    // A launcher's task (--continue) readies the directory under the lock too: refused, the live run's files untouched.
    for (const args of [trainArgs(config, run), resumeArgs(run), [...trainArgs(config, run), '--continue']]) {
      const r = await runCli(args);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`${run} is in use by process ${owner.pid} `);
      expect(r.stderr).toContain(`If that process no longer runs, delete ${lockFile(run)}`);
      expect(fs.existsSync(runFiles(run).config)).toBe(true);
    }
  } finally {
    owner.kill('SIGKILL');
  }
  expect((await ownerDone).signal).toBe('SIGKILL');
  expect(JSON.parse(fs.readFileSync(lockFile(run), 'utf8')).pid).toBe(owner.pid); // stale now
  const resumed = await runCli(resumeArgs(run));
  expect([resumed.code, resumed.stderr]).toEqual([0, '']);
  expect(leftovers(run)).toEqual([]);
  const reference = path.join(dir, 'reference');
  const uninterrupted = await runCli(trainArgs(config, reference));
  expect([uninterrupted.code, uninterrupted.stderr]).toEqual([0, '']);
  expect(outcome(run)).toEqual(outcome(reference));
});
