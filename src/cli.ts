#!/usr/bin/env node
/** The `ilr` command line: one command per figure, plus the tools around training. */
import yargs, { CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { architectureCommand } from './commands/architecture';
import { exportCommand } from './commands/export';
import { figureCommands, reproduceCommand } from './commands/figures';
import { benchCommand } from './commands/bench';
import { dashboardCommand } from './commands/dashboard';
import { dataCommand } from './commands/data';
import { doctorCommand } from './commands/doctor';
import { swaCommand } from './commands/swa';
import { metricsCommand } from './commands/metrics';
import { sweepCommand } from './commands/sweep';
import { modelsCommand } from './commands/models';
import { parityCommand } from './commands/parity';
import { trainCommand } from './commands/train';

/** Every command, in the order `ilr --help` lists them (each module keeps its own argument types). */
export const COMMANDS: CommandModule<any, any>[] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
  reproduceCommand, ...figureCommands, trainCommand, sweepCommand, exportCommand, parityCommand, modelsCommand,
  architectureCommand, benchCommand, dataCommand, doctorCommand, swaCommand, dashboardCommand, metricsCommand,
];

export function cli(argv: string[]) {
  return yargs(argv)
    .scriptName('ilr')
    .usage('$0 <command> [options]\n\nSGD + weight decay on normalized networks: the intrinsic learning rate (Li, Lyu & Arora 2020).')
    .command(COMMANDS)
    .demandCommand(1, 'name a command; `ilr --help` lists them')
    .strict()
    .recommendCommands()
    .fail((msg, err, y) => {
      if (err) {
        console.error(`error: ${err.message}`);
      } else {
        y.showHelp();
        console.error(`\n${msg}`);
      }
      process.exit(2);
    })
    .help()
    .wrap(Math.min(110, process.stdout.columns || 110));
}

if (require.main === module) {
  // Through a promise, so that a handler's synchronous throw lands here too, not in Node's
  // uncaught-exception printer (which dumps the minified yargs line it passed through).
  Promise.resolve().then(() => cli(hideBin(process.argv)).parseAsync()).catch((e: Error) => {
    console.error(`error: ${e.message}`);
    process.exit(1);
  });
}
