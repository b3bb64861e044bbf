import MailComposer from 'nodemailer/lib/mail-composer';
import { describe, expect, it } from 'vitest';
import {
  buildMessage,
  formatRfc5322Date,
  renderTemplate,
  unknownTemplateVariables,
  type MessageSpec,
} from '../../src/send/message.js';
import { WarmupError } from '../../src/util/errors.js';

const NOW = Date.parse('2026-12-01T08:00:00Z');

function ids(...values: string[]): () => string {
  let i = 0;
  return () => values[i++] ?? `id${i}`;
}

const spec: MessageSpec = {
  from: { name: 'Example Newsletter', address: 'news@example.com' },
  envelopeFrom: 'bounces+warmup@mail.example.com',
  to: 'seed-01@gmail.test',
  subject: 'Hello {{local_part}} #{{seq}}',
  text: 'To {{recipient}} at {{provider}} via {{ip}} on {{date}}.\nid {{message_id}}\nunsubscribe: {{unsubscribe_url}}',
  html: '<p>Hi {{ local_part }}</p><a href="{{unsubscribe_url}}">unsubscribe</a>',
  unsubscribe: { url: 'https://example.com/u?m={{message_id}}&r={{recipient}}', mailto: 'mailto:unsub@example.com?subject={{warmup_id}}' },
  provider: 'gmail',
  ip: '203.0.113.10',
  seq: 7,
};

describe('buildMessage', () => {
  const msg = buildMessage(spec, { now: NOW, newId: ids('w-7f3a.1') });

  it('takes the Date from now and the Message-ID from the id on the From domain', () => {
    expect(msg.fields.date).toBe('Tue, 01 Dec 2026 08:00:00 +0000');
    expect(msg.messageId).toBe('<w-7f3a.1@example.com>');
    expect(msg.fields.messageId).toBe(msg.messageId);
    expect(msg.warmupId).toBe('w-7f3a.1');
  });

  it('keeps the envelope sender apart from From', () => {
    expect(msg.envelope).toEqual({ from: 'bounces+warmup@mail.example.com', to: ['seed-01@gmail.test'] });
    expect(msg.fields.from).toEqual({ name: 'Example Newsletter', address: 'news@example.com' });
  });

  it('renders subject, text and escaped html', () => {
    expect(msg.fields.subject).toBe('Hello seed-01 #7');
    expect(msg.fields.text).toBe(
      'To seed-01@gmail.test at gmail via 203.0.113.10 on Tue, 01 Dec 2026.\n' +
        'id w-7f3a.1@example.com\n' +
        'unsubscribe: https://example.com/u?m=w-7f3a.1%40example.com&r=seed-01%40gmail.test',
    );
    expect(msg.fields.html).toBe(
      '<p>Hi seed-01</p><a href="https://example.com/u?m=w-7f3a.1%40example.com&#38;r=seed-01%40gmail.test">unsubscribe</a>',
    );
  });

  it('adds RFC 8058 one-click unsubscribe and the X-Warmup-Id header', () => {
    expect(msg.fields.headers).toEqual({
      'List-Unsubscribe': '<https://example.com/u?m=w-7f3a.1%40example.com&r=seed-01%40gmail.test>, <mailto:unsub@example.com?subject=w-7f3a.1>',
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      'X-Warmup-Id': 'w-7f3a.1',
    });
  });

  it('renders {{date}} as the day in the plan\'s time zone and {{datetime}} as the Date header', () => {
    const late = Date.parse('2026-12-01T23:30:00Z');
    const at = (timezone?: string) => buildMessage({ ...spec, subject: 'for {{date}} ({{datetime}})', ...(timezone ? { timezone } : {}) }, { now: late, newId: ids('d1') }).fields.subject;
    expect(at()).toBe('for Tue, 01 Dec 2026 (Tue, 01 Dec 2026 23:30:00 +0000)');
    expect(at('Europe/Paris')).toBe('for Wed, 02 Dec 2026 (Tue, 01 Dec 2026 23:30:00 +0000)');
    expect(at('America/New_York')).toBe('for Tue, 01 Dec 2026 (Tue, 01 Dec 2026 23:30:00 +0000)');
  });

  it('gives every message its own Message-ID', () => {
    const newId = ids('a1', 'a2');
    const a = buildMessage(spec, { now: NOW, newId });
    const b = buildMessage(spec, { now: NOW, newId });
    expect(a.messageId).not.toBe(b.messageId);
  });

  it('composes into a valid RFC 5322 message with nodemailer', async () => {
    const raw = (await new MailComposer(msg.fields).compile().build()).toString('utf8');
    const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
    expect(head).toMatch(/^Date: Tue, 01 Dec 2026 08:00:00 \+0000$/m);
    expect(head).toMatch(/^Message-ID: <w-7f3a\.1@example\.com>$/m);
    expect(head).toMatch(/^From: Example Newsletter <news@example\.com>$/m);
    expect(head).toMatch(/^To: seed-01@gmail\.test$/m);
    expect(head).toMatch(/^List-Unsubscribe-Post: List-Unsubscribe=One-Click$/m);
    // nodemailer spells it X-Warmup-ID; header names are case-insensitive (RFC 5322).
    expect(head).toMatch(/^X-Warmup-Id: w-7f3a\.1$/im);
    expect(head).toMatch(/^MIME-Version: 1\.0$/m);
    expect(head).toMatch(/^Content-Type: multipart\/alternative;/m);
    expect(raw).toContain('Content-Type: text/plain');
    expect(raw).toContain('Content-Type: text/html');
  });

  it('keeps a rendered subject on one line', () => {
    const m = buildMessage({ ...spec, subject: 'x {{provider}}', provider: 'evil\r\nBcc: a@b.c' }, { now: NOW, newId: ids('x1') });
    expect(m.fields.subject).toBe('x evil Bcc: a@b.c');
  });

  it.each([
    ['a bad recipient', { to: 'not an address' }, 'INVALID_ADDRESS'],
    ['a bad From', { from: { address: 'news@' } }, 'INVALID_ADDRESS'],
    ['an unknown variable', { subject: 'Hi {{first_name}}' }, 'TEMPLATE_UNKNOWN_VARIABLE'],
    ['a plain-http unsubscribe URL', { unsubscribe: { url: 'http://example.com/u', mailto: 'mailto:u@example.com' } }, 'INVALID_UNSUBSCRIBE'],
    ['a missing mailto', { unsubscribe: { url: 'https://example.com/u', mailto: 'u@example.com' } }, 'INVALID_UNSUBSCRIBE'],
  ] as const)('rejects %s', (_, patch, code) => {
    const fn = () => buildMessage({ ...spec, ...patch } as MessageSpec, { now: NOW, newId: ids('ok1') });
    expect(fn).toThrow(WarmupError);
    expect(fn).toThrow(expect.objectContaining({ code }));
  });

  it('rejects an id that would break the Message-ID', () => {
    expect(() => buildMessage(spec, { now: NOW, newId: () => 'a b>' })).toThrow(expect.objectContaining({ code: 'INVALID_ID' }));
  });
});

describe('templates', () => {
  it.each([
    ['{{a}}-{{ b }}', { a: '1', b: '2' }, '1-2'],
    ['no placeholders', {}, 'no placeholders'],
    ['{{a}}{{a}}', { a: 'x' }, 'xx'],
    ['{single} {{a}}', { a: 'y' }, '{single} y'],
  ])('renders %j', (template, vars, expected) => {
    expect(renderTemplate(template, vars)).toBe(expected);
  });

  it('lists unknown variables once each', () => {
    expect(unknownTemplateVariables('{{recipient}} {{nope}} {{ nope }} {{seq}} {{other}}')).toEqual(['nope', 'other']);
  });

  it('does not treat inherited object keys as variables', () => {
    expect(() => renderTemplate('{{constructor}}', {})).toThrow(expect.objectContaining({ code: 'TEMPLATE_UNKNOWN_VARIABLE' }));
  });
});

describe('formatRfc5322Date', () => {
  it.each([
    [Date.parse('2026-12-01T08:00:00Z'), 'Tue, 01 Dec 2026 08:00:00 +0000'],
    [Date.parse('2027-02-28T23:59:59.999Z'), 'Sun, 28 Feb 2027 23:59:59 +0000'],
    [0, 'Thu, 01 Jan 1970 00:00:00 +0000'],
  ])('formats %i', (ms, expected) => {
    expect(formatRfc5322Date(ms)).toBe(expected);
  });
});
