/** Every command name is taken once: a figure whose id collides with a tool needs its own `command`. */
import { CommandModule } from 'yargs';
import { figureCommands, reproduceCommand } from '../../src/commands/figures';
import { architectureCommand } from '../../src/commands/architecture';
import { benchCommand } from '../../src/commands/bench';
import { dataCommand } from '../../src/commands/data';
import { exportCommand } from '../../src/commands/export';
import { modelsCommand } from '../../src/commands/models';
import { parityCommand } from '../../src/commands/parity';
import { swaCommand } from '../../src/commands/swa';
import { trainCommand } from '../../src/commands/train';

it('command names are unique', () => {
  const all = [reproduceCommand, ...figureCommands, trainCommand, exportCommand, parityCommand, modelsCommand, architectureCommand, benchCommand, dataCommand, swaCommand] as CommandModule<any, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  const names = all.map((c) => String(c.command).split(' ')[0]);
  expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  expect(names).toContain('swa-figure');
});
