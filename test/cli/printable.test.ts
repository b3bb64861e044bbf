import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { jsonLine, jsonText, printable, table } from '../../src/cli/format.js';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { openSqlite } from '../../src/store/open.js';
import * as q from '../../src/store/queries.js';
import { load, writePlan } from '../daemon/harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
// A hostile receiver's reply: clear the screen, set the title, an 8-bit CSI.
const REPLY = '421 4.7.0 \x1b[2J\x1b]0;pwned\x07 try later \x9b31m';

describe('text from receivers never drives the terminal', () => {
  it('printable shows control characters as \\xNN, and jsonText escapes DEL and C1 too', () => {
    expect(printable(REPLY)).toBe('421 4.7.0 \\x1b[2J\\x1b]0;pwned\\x07 try later \\x9b31m');
    expect(table(['reply'], [[REPLY]])).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    const json = jsonText({ reply: REPLY });
    expect(json).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    expect(JSON.parse(json)).toEqual({ reply: REPLY });
  });

  it('jsonLine is jsonText and a newline as UTF-8 bytes, escapes included', () => {
    for (const value of [{ reply: REPLY }, { a: [1, 2.5, null, 'x'], b: { c: true } }, { s: 'caf\u00e9 \u2028 \u202e \u{1f600}' }, { del: 'a\u007fb' }, [], 'plain', 0]) {
      const bytes = jsonLine(value);
      expect(Buffer.from(bytes).toString('utf8')).toBe(`${jsonText(value)}\n`);
      expect(Buffer.from(bytes).equals(Buffer.from(`${jsonText(value)}\n`))).toBe(true);
    }
  });

  it('warmup events and warmup status print an escape sequence in a reply as text', async () => {
    const { file } = writePlan({ name: 'ctl', ips: ['127.0.0.162'], providers: { sink: { domains: ['sink.test'], seeds: ['ctl@sink.test'] } } });
    const plan = load(file);
    const store = await openSqlite(plan.storePath);
    await q.ensureLanes(store.db, plan.name, [{ ip: '127.0.0.162', provider: 'sink' }], Date.parse('2026-12-01T09:00:00Z'));
    await q.addHold(store.db, plan.name, { ip: '127.0.0.162' }, { kind: 'rule', actor: 'rule:x', reason: `x: ${REPLY}`, until: null, eventKind: 'rule_pause', cause: { reply: REPLY } }, Date.parse('2026-12-01T09:00:00Z'));
    await store.close();
    for (const argv of [['events', file], ['events', file, '--json'], ['status', file], ['status', file, '--json']]) {
      const io = memoryIo({}, root);
      expect(await main(argv, io), argv.join(' ')).toBe(0);
      expect(io.stdout, argv.join(' ')).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    }
  });
});
