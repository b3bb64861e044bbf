#!/usr/bin/env node
/**
 * The bundled `warmup` bin (dist/bundle/main.js). `warmup status` runs from
 * its own one-file bundle (./status-bin.ts): Node's ES-module loader costs
 * about a millisecond per file, and the command as split by the bundler
 * loaded seventeen. Every other command runs through the CLI (./main.ts).
 */
if (process.argv[2] === 'status') await import('./status-bin.js');
else (await import('./main.js')).cli();
