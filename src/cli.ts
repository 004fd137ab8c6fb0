/**
 * The seatbelt command line: `run` (the pipeline), `drill` (the incident drills) and `bench`.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './runtime/worker-module.js';
import { runCommand, validateCommand } from './run-command.js';
import { drillCommand } from './drill/command.js';
import { benchCommand, BENCHES } from './bench-command.js';


const USAGE = `usage: seatbelt <command>

commands:
  run [--config FILE] [--duration S] ... run the pipeline (seatbelt run --help)
  validate FILE                          check a pipeline config without running it
  drill fail-open|cut [options]          the incident drills (seatbelt drill --help)
  bench [${BENCHES.join('|')}] [--quick]   run benchmarks (all when none is named)
  version                                print the version
  help                                   print this
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return runCommand(rest);
    case 'drill':
      return drillCommand(rest);
    case 'validate':
      return validateCommand(rest);
    case 'bench':
      return benchCommand(rest);
    case 'version': {
      const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
      process.stdout.write(`${pkg.version}\n`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`seatbelt: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`seatbelt: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
