/** `ilr dashboard`: a local page that draws runs' metrics as they train. */
import { CommandModule } from 'yargs';
import { startDashboard } from '../dashboard/server';

interface Args {
  dirs: string[];
  port: number;
  host: string;
}

export const dashboardCommand: CommandModule<object, Args> = {
  command: 'dashboard [dirs..]',
  describe: 'serve a page on localhost that draws the runs under DIRS live: loss, accuracy, |w|, effective LR, angular update against theory, schedule, per layer',
  builder: (y) =>
    y
      .positional('dirs', { type: 'string', array: true, default: ['runs'], describe: 'run directories, figure outputs, sweeps or runs/ (default: runs)' })
      .option('port', { type: 'number', default: 6006, describe: 'port to listen on (0: any free one)' })
      .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to bind; 0.0.0.0 exposes the runs to the network' }),
  handler: async (a) => {
    const dashboard = await startDashboard({ roots: a.dirs, port: a.port, host: a.host });
    console.log(`dashboard: ${dashboard.url} (runs under ${a.dirs.join(', ')}; Ctrl-C stops it)`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await dashboard.close();
  },
};
