/** The Slurm launcher's pieces that need no cluster: the job script and the missing-sbatch error. */
import { parseLauncher } from '../../src/commands/launch-options';
import { jobScript, requireSlurmCommand } from '../../src/launch/slurm';

it('passes the #SBATCH options through and runs the task in place of the shell', () => {
  const choice = parseLauncher({
    launcher: 'slurm', wait: false, partition: 'gpu', time: '12:00:00', 'cpus-per-task': 4, gres: 'gpu:1', mem: '16G', account: 'lab',
    sbatch: ['--qos=high', '--constraint=a100'], 'max-parallel': 8,
  });
  if (choice.kind !== 'slurm') throw new Error('expected the slurm launcher');
  const script = jobScript({ name: 'ilr-sweep-x', array: '0-3%8', logDir: '/s/slurm/logs', taskList: '/s/slurm/tasks-1.tsv', slurm: choice.slurm });
  for (const line of ['--partition=gpu', '--time=12:00:00', '--cpus-per-task=4', '--gres=gpu:1', '--mem=16G', '--account=lab', '--qos=high', '--constraint=a100', '--array=0-3%8', '--requeue', '--signal=B:TERM@120']) {
    expect(script).toContain(`#SBATCH ${line}\n`);
  }
  expect(script).toMatch(/\nexec '.*node'? '.*cli\.js' 'train' '--config' "\$RUN\/planned-config\.json" '--out' "\$RUN" '--continue' '--quiet' >>"\$RUN\/train\.log" 2>&1\n/);
  expect(() => parseLauncher({ launcher: 'slurm', wait: false, sbatch: ['qos=high'], 'max-parallel': 0 })).toThrow(/--sbatch "qos=high"/);
});

it('says what to install when sbatch is not on PATH', () => {
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  try {
    expect(() => requireSlurmCommand('sbatch')).toThrow(/`sbatch` is not on PATH.*apt-get install slurm-client.*--launcher local/);
  } finally {
    process.env.PATH = path;
  }
});
