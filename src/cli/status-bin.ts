/**
 * `warmup status` as one file of the bundle (built apart from the rest, see
 * the `bundle` script): the bin (./bin.ts) loads it for `warmup status`. It
 * holds its own copy of the modules status uses; what it loads from the rest
 * of the bundle (the kysely store, PostgreSQL, the plan loader on a cache
 * miss) returns plain data, and their errors are recognised by brand
 * (util/errors.ts).
 */
import * as status from './commands/status.js';
import { processIo } from './io.js';
import { runCommand, runProcess } from './run-command.js';

runProcess(() => runCommand('status', async () => status, process.argv.slice(3), processIo));
