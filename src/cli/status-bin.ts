/**
 * `warmup status` as one CommonJS file of the bundle (dist/bundle/status-bin.cjs,
 * built apart from the rest by ./bundle.mjs): the bin (./bin.ts) runs it for
 * `warmup status` through V8's code cache (./code-cache.ts). It
 * holds its own copy of the modules status uses; what it loads from the rest
 * of the bundle (the kysely store, PostgreSQL, the plan loader on a cache
 * miss) returns plain data, and their errors are recognised by brand
 * (util/errors.ts).
 */
import { writeSync } from 'node:fs';
import * as status from './commands/status.js';
import { directIo } from './io.js';
import { runCommand, runProcess } from './run-command.js';

runProcess(() => runCommand('status', async () => status, process.argv.slice(3), directIo({ writeSync })), false);
