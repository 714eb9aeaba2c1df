/** Every command name is taken once: a figure whose id collides with a tool needs its own `command`. */
import { COMMANDS } from '../../src/cli';

it('command names are unique', () => {
  const names = COMMANDS.map((c) => String(c.command).split(' ')[0]);
  expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  expect(names).toEqual(expect.arrayContaining(['swa-figure', 'train', 'sweep', 'doctor', 'dashboard', 'metrics']));
});
