#!/usr/bin/env node
// The `seatbelt` command: runs the compiled CLI (npm ci / npm run build compile it to dist/).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('seatbelt: dist/src/cli.js is missing; run "npm run build" in the seatbelt directory first\n');
  process.exit(1);
}
await import(cli.href);
