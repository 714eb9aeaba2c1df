/** `ilr data list` and `ilr data download NAME`: where the data sets are found, and fetching them. */
import { Argv, CommandModule } from 'yargs';
import { downloadDataset, formatDatasetList, listDatasets, REAL_DATASET_NAMES, RealDatasetName } from '../data';
import { formatBytes } from '../util/progress';

interface ListArgs {
  'data-dir'?: string;
}

interface DownloadArgs {
  name: string;
  dir?: string;
  progress: boolean;
}

const listCommand: CommandModule<object, ListArgs> = {
  command: 'list',
  describe: 'show where each data set is found (--data-dir, ILR_DATA_DIR, system, cache) or would be downloaded from',
  builder: (y) => y.option('data-dir', { type: 'string', describe: 'also look in this directory first (as `ilr train --data-dir`)' }),
  handler: (a) => {
    console.log(formatDatasetList(listDatasets({ dataDir: a['data-dir'] })));
  },
};

const downloadCommand: CommandModule<object, DownloadArgs> = {
  command: 'download <name>',
  describe: 'fetch a data set into the cache (or --dir) and verify its checksums; files already there are verified, not fetched again',
  builder: (y) =>
    y
      .positional('name', { type: 'string', choices: REAL_DATASET_NAMES, demandOption: true, describe: 'data set' })
      .option('dir', { type: 'string', describe: 'target directory (default: the cache, $ILR_CACHE_DIR/<name> or ~/.cache/intrinsic-lr/<name>)' })
      .option('progress', { type: 'boolean', default: true, describe: 'progress bar on stderr (--no-progress: none)' }) as Argv<DownloadArgs>,
  handler: async (a) => {
    const r = await downloadDataset(a.name as RealDatasetName, { dir: a.dir, progress: a.progress });
    for (const f of r.files) {
      console.log(`  ${f.name.padEnd(28)} ${formatBytes(f.bytes).padStart(9)}  sha256 ${f.sha256}  ${f.reused ? 'verified in place' : 'downloaded'}`);
    }
    console.log(`${r.name}: ${r.files.length} files in ${r.dir} (checksums recorded in ${r.dir}/checksums.json)`);
  },
};

export const dataCommand: CommandModule = {
  command: 'data <command>',
  describe: 'data sets: `data list` shows where they are found, `data download NAME` fetches one',
  builder: (y) => y.command(listCommand).command(downloadCommand).demandCommand(1, 'name a data command: list or download'),
  handler: () => undefined,
};
