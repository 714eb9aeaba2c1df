/**
 * Child-process entry of `ilr bench`: runs our side of one case (JSON in argv[2]) and prints its
 * SideResult as JSON, so each side's peak RSS is measured in a process of its own.
 */
import { BenchCase, benchOurs } from './ours';

benchOurs(JSON.parse(process.argv[2]) as BenchCase).then(
  (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
  (e: Error) => {
    process.stderr.write(`${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
