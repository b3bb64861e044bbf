import { describe, expect, it } from 'vitest';
import { jsonText, printable } from '../../src/cli/format.js';
import { memoryIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { openSqlite } from '../../src/store/open.js';
import * as q from '../../src/store/queries.js';
import { load, writePlan } from '../daemon/harness.js';

async function run(...argv: string[]) {
  const io = memoryIo({}, process.cwd());
  const code = await main(argv, io);
  return { code, out: io.stdout, err: io.stderr };
}

describe('printable and jsonText', () => {
  it.each([
    ['ESC sequences', '554 \x1b[2J\x1b]0;owned\x07gone', '554 \\x1b[2J\\x1b]0;owned\\x07gone'],
    ['C1 controls and DEL', 'a\u009b31mb\x7f', 'a\\x9b31mb\\x7f'],
    ['line breaks', 'one\r\ntwo', 'one\\x0d\\x0atwo'],
    ['bidi overrides', 'user\u202Etxt.exe', 'user\\u202etxt.exe'],
    ['plain text (unchanged)', '550 5.7.1 é blocked', '550 5.7.1 é blocked'],
  ])('escapes %s', (_what, raw, shown) => {
    expect(printable(raw)).toBe(shown);
  });

  it('keeps JSON valid and equal while escaping what terminals act on', () => {
    const value = { reply: '554 \x1b[2J\u009b31m\u202Ex', n: 1 };
    const text = jsonText(value);
    expect(text).not.toMatch(/[\x1b\u009b\u202e]/);
    expect(JSON.parse(text)).toEqual(value);
    // DEL alone in otherwise ASCII text, and ASCII text with nothing to escape.
    expect(jsonText({ r: 'a\x7fb' })).toBe('{\n  "r": "a\\u007fb"\n}');
    expect(jsonText({ r: 'plain', n: [1] })).toBe(JSON.stringify({ r: 'plain', n: [1] }, null, 2));
    expect(jsonText({ r: 'é \u2028' })).toBe('{\n  "r": "é \\u2028"\n}');
  });
});

describe('warmup events', () => {
  it('prints the replies behind each decision and hold, with control characters escaped', async () => {
    const { file } = writePlan({ name: 'evshow', ips: ['127.0.0.175'], providers: { sink: { domains: ['sink.test'], seeds: ['ev@sink.test'] } } });
    const plan = load(file);
    const store = await openSqlite(plan.storePath);
    const at = Date.parse('2026-12-01T10:00:00Z');
    await q.addEvent(store.db, {
      at, plan: plan.name, ip: '127.0.0.175', provider: 'sink', kind: 'rejection_breaker', from: 'active', to: 'paused', actor: 'policy:rejection-breaker',
      cause: {
        reason: 'rejection-breaker: 5x 554 5.7.1 \x1b[2Jrejected (rejection rate 100%: 5 of the last 5 answers)', reply: '5x 554 5.7.1 \x1b[2Jrejected (rejection rate 100%: 5 of the last 5 answers)',
        evidence: [{ reply: '554 5.7.1 \x1b[2Jrejected', code: 554, enhanced: '5.7.1', count: 5 }, { reply: '554 5.7.1 other \u009b', code: 554, enhanced: '5.7.1', count: 1 }],
      },
    });
    await q.addEvent(store.db, {
      at: at + 1, plan: plan.name, ip: '127.0.0.175', provider: 'sink', kind: 'day_pause', from: 'stage 1', to: 'stage 1', actor: 'policy',
      cause: { target: 4, accepted: 0, bounced: 4, greylisted: 0, unknownUsers: 2, reason: 'bounce rate 100.0% above 10.0%', evidence: [] },
    });
    await store.close();

    const r = await run('events', file);
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(/[\x1b\u009b]/);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[2]).toMatch(/^2026-12-01 10:00 +127\.0\.0\.175\/sink +rejection_breaker +active -> paused +policy:rejection-breaker +rejection-breaker: 5x 554 5\.7\.1 \\x1b\[2Jrejected \(rejection rate 100%: 5 of the last 5 answers\)$/);
    expect(lines[3]).toBe('    > 5x 554 5.7.1 \\x1b[2Jrejected');
    expect(lines[4]).toBe('    > 1x 554 5.7.1 other \\x9b');
    // Zero greylisting is left out; unknown users are named.
    expect(lines[5]).toMatch(/day_pause .* bounce rate 100\.0% above 10\.0%; target=4 accepted=0 bounced=4 unknownUsers=2$/);
    expect(lines).toHaveLength(6);

    const json = await run('events', file, '--json');
    expect(json.out).not.toMatch(/[\x1b\u009b]/);
    expect(JSON.parse(json.out)[0].cause.evidence[0]).toEqual({ reply: '554 5.7.1 \x1b[2Jrejected', code: 554, enhanced: '5.7.1', count: 5 });
  });
});
