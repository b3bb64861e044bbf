import { describe, expect, it } from 'vitest';
import { composeMessage, composeWithNodemailer, leanCompose } from '../../src/send/compose.js';
import { buildMessage, type MessageFields } from '../../src/send/message.js';
import { DEFAULT_CONTENT } from '../../src/plan/defaults.js';
import { seededRandom } from '../../src/util/random.js';

const NOW = Date.parse('2026-12-01T08:00:00Z');
const BOUNDARY = '0123456789abcdef';

const rng = seededRandom;

const WORDS = ['Hello', 'seed-01', 'summary', 'for', 'Tue,', '01', 'Dec', '2026', 'a', 'https://example.com/u?r=seed%40gmail.test&x=1', '"quoted"', '=?utf-8?Q?x?=', 'café', '日本語', 'x'.repeat(90), '\t', 'tab\there', '<b>', '&#38;', '=', '.', 'end.'];
const BREAKS = ['\n', '\r\n', '\n\n', ' \n', '\t\n'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function textOf(r: () => number, maxWords: number, breaks: boolean): string {
  const n = Math.floor(r() * maxWords);
  let s = '';
  for (let i = 0; i < n; i++) {
    s += pick(r, WORDS);
    s += breaks && r() < 0.2 ? pick(r, BREAKS) : ' ';
  }
  return r() < 0.8 ? s.trimEnd() : s;
}

function fieldsOf(r: () => number, i: number): MessageFields {
  const asciiOnly = r() < 0.7; // most cases should exercise the lean path
  const clean = (s: string): string => (asciiOnly ? s.replace(/[^\x20-\x7e\n\r\t]/g, 'e').replace(/["]/g, '').replaceAll('=?', '=') : s);
  const subject = clean(textOf(r, 20, false)).replace(/[\r\n]+/g, ' ').replace(/\t/g, asciiOnly ? ' ' : '\t');
  const html = r() < 0.3 ? undefined : clean(textOf(r, 120, true));
  const name = pick(r, ['Bench', '', 'Example Newsletter', 'A_b 9', 'Dr. Who', 'Zoë']);
  return {
    from: { name: asciiOnly && r() < 0.9 ? name.replace(/[^\w ]/g, '') : name, address: pick(r, ['hello@bench.warmup.test', 'news+w@mail.example.com', 'x@y.test']) },
    to: pick(r, ['seed1@sink.test', 'seed-01@gmail.test', 'a.b@c.d.test']),
    subject,
    text: clean(textOf(r, 150, true)),
    ...(html === undefined ? {} : { html }),
    date: 'Tue, 01 Dec 2026 08:00:00 +0000',
    messageId: `<wu-${i}-20261201-abcdef12@bench.warmup.test>`,
    headers: {
      'List-Unsubscribe': pick(r, [`<https://bench.warmup.test/u?r=seed1%40sink.test>, <mailto:unsub@bench.warmup.test?subject=unsubscribe-wu-${i}-x>`, '<https://e.test/u>', `<https://bench.warmup.test/${'p'.repeat(120)}>`]),
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      'X-Warmup-Id': `wu-${i}-20261201-abcdef12`,
    },
  };
}

describe('composeMessage', () => {
  it('writes the bytes MailComposer writes, on generated fields (lean path or not)', async () => {
    const r = rng(12);
    let lean = 0;
    const n = 400;
    for (let i = 0; i < n; i++) {
      const fields = fieldsOf(r, i);
      const expected = (await composeWithNodemailer(fields, BOUNDARY)).toString('latin1');
      const fast = leanCompose(fields, BOUNDARY);
      if (fast) {
        lean++;
        expect(fast.toString('latin1'), JSON.stringify(fields)).toBe(expected);
      }
      const any = composeMessage(fields, BOUNDARY);
      expect((any instanceof Buffer ? any : await any).toString('latin1')).toBe(expected);
    }
    // The generator is meant to exercise both paths.
    expect(lean).toBeGreaterThan(n * 0.3);
    expect(lean).toBeLessThan(n);
  });

  it('takes the lean path for the default content, text and HTML or text alone', async () => {
    for (const html of [DEFAULT_CONTENT.html, undefined]) {
      const built = buildMessage({
        from: { name: 'Bench', address: 'hello@bench.warmup.test' }, envelopeFrom: 'bounces@bench.warmup.test', to: 'seed1@sink.test',
        subject: DEFAULT_CONTENT.subjects[0]!, text: DEFAULT_CONTENT.text, ...(html === undefined ? {} : { html }),
        unsubscribe: { url: 'https://bench.warmup.test/u?r={{recipient}}', mailto: 'mailto:unsub@bench.warmup.test?subject=unsubscribe-{{warmup_id}}' },
        provider: 'sink', ip: '127.0.0.121', seq: 1,
      }, { now: NOW, newId: () => 'wu-1-20261201-1-abcdef12' });
      const fast = leanCompose(built.fields, BOUNDARY);
      expect(fast).not.toBeNull();
      expect(fast!.toString('latin1')).toBe((await composeWithNodemailer(built.fields, BOUNDARY)).toString('latin1'));
    }
  });

  it('leaves non-ASCII headers and base64 bodies to MailComposer, with the same result', async () => {
    const base = fieldsOf(rng(3), 1);
    for (const fields of [
      { ...base, subject: 'Grüße aus Köln' },
      { ...base, from: { name: 'Zoë', address: 'z@e.test' } },
      { ...base, text: '日本語のテキスト'.repeat(20) },
      { ...base, subject: 'say "hi"' },
    ]) {
      expect(leanCompose(fields, BOUNDARY)).toBeNull();
      const out = composeMessage(fields, BOUNDARY);
      expect(out).toBeInstanceOf(Promise);
      expect((await out).toString('latin1')).toBe((await composeWithNodemailer(fields, BOUNDARY)).toString('latin1'));
    }
  });

  it('draws a fresh boundary per message by default', () => {
    const fields: MessageFields = { ...fieldsOf(rng(5), 2), from: { name: 'Bench', address: 'hello@bench.warmup.test' }, subject: 'Hi', text: 'Hello.' };
    const a = composeMessage({ ...fields, html: '<p>x</p>' }) as Buffer;
    const b = composeMessage({ ...fields, html: '<p>x</p>' }) as Buffer;
    const boundary = (m: Buffer): string => /boundary="([^"]+)"/.exec(m.toString('latin1'))![1]!;
    expect(boundary(a)).toMatch(/^--_NmP-[0-9a-f]{16}-Part_1$/);
    expect(boundary(a)).not.toBe(boundary(b));
  });
});
