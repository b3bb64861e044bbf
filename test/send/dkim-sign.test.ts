import { createHash, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { dkimVerify } from 'mailauth';
import { describe, expect, it } from 'vitest';
import { dkimRecordValue } from '../../src/dns/auth-records.js';
import { dkimSignatures, relaxedBody, relaxedHeader, SIGNED_HEADERS } from '../../src/send/dkim-sign.js';

const T0 = Date.parse('2026-12-01T08:00:00Z');
const rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const edPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const rsa = { domain: 'example.test', selector: 'r1', key: createPrivateKey(rsaPem) };
const ed = { domain: 'example.test', selector: 'e1', key: createPrivateKey(edPem) };
const records = new Map([[`r1._domainkey.example.test`, dkimRecordValue(rsaPem)], [`e1._domainkey.example.test`, dkimRecordValue(edPem)]]);

/** mailauth's verifier, with the two keys' records as its DNS. */
async function verify(message: Buffer) {
  const res = await dkimVerify(message, {
    curTime: new Date(T0 + 60_000),
    resolver: async (name: string, rrtype: string) => {
      const r = records.get(name);
      if (rrtype !== 'TXT' || !r) throw Object.assign(new Error(`no ${rrtype} ${name}`), { code: 'ENOTFOUND' });
      return [[r]];
    },
  });
  return res.results.map((r) => ({ selector: r.selector, algo: (r as unknown as { algo: string }).algo, result: r.status.result }));
}

const MESSAGE = Buffer.from([
  'From: Example <news@example.test>',
  'To: seed@seeds.test',
  'Subject: A subject folded',
  '\tover two lines  with   runs of space ',
  'Date: Tue, 01 Dec 2026 08:00:00 +0000',
  'Message-ID: <w1@example.test>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  'List-Unsubscribe: <https://example.test/u/w1>',
  'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
  'X-Warmup-Id: w1',
  '',
  'Hello  there,   ',
  '',
  'a line with trailing tabs\t\t',
  '',
  '',
].join('\r\n'));

function signed(message: Buffer, keys: { domain: string; selector: string; key: KeyObject }[]): Buffer {
  return Buffer.concat([Buffer.from(dkimSignatures(message, keys, T0), 'latin1'), message]);
}

describe('DKIM signatures', () => {
  it('an RSA-SHA256 signature verifies with mailauth, and a changed body does not', async () => {
    const out = signed(MESSAGE, [rsa]);
    expect(await verify(out)).toEqual([{ selector: 'r1', algo: 'rsa-sha256', result: 'pass' }]);
    expect((await verify(Buffer.from(out.toString('latin1').replace('Hello', 'Hallo'), 'latin1')))[0]!.result).not.toBe('pass');
  });

  it('a body with lone LF line ends verifies as the CRLF message the SMTP client puts on the wire', async () => {
    const lf = Buffer.from(MESSAGE.toString('latin1').replace(/\r\n\r\n(.*)$/s, (_m, body: string) => `\r\n\r\n${body.replace(/\r\n/g, '\n')}`), 'latin1');
    expect(lf.toString('latin1')).toContain('Hello  there,   \n');
    const wire = Buffer.from(signed(lf, [rsa]).toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
    expect(await verify(wire)).toEqual([{ selector: 'r1', algo: 'rsa-sha256', result: 'pass' }]);
  });

  it('an Ed25519-SHA256 signature (RFC 8463) verifies with mailauth', async () => {
    expect(await verify(signed(MESSAGE, [ed]))).toEqual([{ selector: 'e1', algo: 'ed25519-sha256', result: 'pass' }]);
  });

  it('dual signing puts both signatures on the message and both verify', async () => {
    const out = signed(MESSAGE, [rsa, ed]);
    expect(out.toString('latin1').match(/^DKIM-Signature:/gm)).toHaveLength(2);
    expect(await verify(out)).toEqual([
      { selector: 'r1', algo: 'rsa-sha256', result: 'pass' },
      { selector: 'e1', algo: 'ed25519-sha256', result: 'pass' },
    ]);
  });

  it('signs the one-click unsubscribe headers and over-signs From', () => {
    const header = dkimSignatures(MESSAGE, [rsa], T0).replace(/\r\n\s+/g, ' ');
    expect(header).toMatch(/h=from:to:subject:date:message-id:mime-version:content-type:list-unsubscribe:list-unsubscribe-post:x-warmup-id:from;/);
    expect(header).toContain(`t=${T0 / 1000};`);
  });

  it('a header whose value changes only in folding and spacing still verifies (relaxed)', async () => {
    const out = signed(MESSAGE, [rsa]).toString('latin1').replace('Subject: A subject folded\r\n\tover two lines', 'Subject:   A subject folded over  two lines');
    expect((await verify(Buffer.from(out, 'latin1')))[0]!.result).toBe('pass');
  });

  it('signs a message without a body', async () => {
    const bare = Buffer.from('From: news@example.test\r\nSubject: empty\r\n\r\n');
    expect((await verify(signed(bare, [rsa, ed]))).map((r) => r.result)).toEqual(['pass', 'pass']);
  });

  it('canonicalizes as RFC 6376 3.4.6 shows', () => {
    expect(relaxedHeader('SUBJect :  AbC\r\n\tdef  ')).toBe('subject:AbC def\r\n');
    expect(relaxedBody(Buffer.from(' C \r\nD \t E\r\n\r\n\r\n')).toString()).toBe(' C\r\nD E\r\n');
    expect(relaxedBody(Buffer.from('\r\n\r\n'))).toHaveLength(0);
    expect(relaxedBody(Buffer.from('no final newline')).toString()).toBe('no final newline\r\n');
  });

  it('relaxed body canonicalization in one pass gives what splitting into lines gives, on generated bodies', () => {
    // The line-by-line reading of RFC 6376 3.4.4 (the implementation before the one-pass one), as the reference.
    const byLines = (body: Buffer): Buffer => {
      if (body.length === 0) return body;
      const lines = body.toString('latin1').split(/\r?\n/);
      if (lines.at(-1) === '') lines.pop();
      const out = lines.map((l) => l.replace(/[ \t]+/g, ' ').replace(/ $/, ''));
      while (out.length && out.at(-1) === '') out.pop();
      return out.length ? Buffer.from(`${out.join('\r\n')}\r\n`, 'latin1') : Buffer.alloc(0);
    };
    let seed = 7;
    const next = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const alphabet = [0x61, 0x2e, 0x20, 0x20, 0x09, 0x0d, 0x0a, 0x0a, 0xe9, 0x3d];
    for (let i = 0; i < 3000; i++) {
      const body = Buffer.from(Array.from({ length: next(40) }, () => alphabet[next(alphabet.length)]!));
      expect(relaxedBody(body).toString('latin1'), JSON.stringify(body.toString('latin1'))).toBe(byLines(body).toString('latin1'));
    }
  });

  it('gives byte for byte the signatures of the split-and-regex reading (the implementation before), on generated messages', () => {
    // The previous implementation, as the reference: every header line split by regex, each field's
    // canonical form by two regex replacements, the body canonicalised from a Buffer.
    const reference = (message: Buffer, keys: { domain: string; selector: string; key: KeyObject }[], now: number): string => {
      const text = message.toString('latin1');
      const gap = /\r?\n\r?\n/.exec(text);
      const head = gap ? text.slice(0, gap.index) : text;
      const body = gap ? message.subarray(gap.index + gap[0].length) : Buffer.alloc(0);
      const bh = createHash('sha256').update(relaxedBody(body)).digest('base64');
      const fields: { name: string; raw: string }[] = [];
      for (const line of head.split(/\r?\n/)) {
        if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length) {
          const last = fields.pop()!;
          fields.push({ name: last.name, raw: `${last.raw}\r\n${line}` });
          continue;
        }
        const colon = line.indexOf(':');
        if (colon > 0) fields.push({ name: line.slice(0, colon).trim().toLowerCase(), raw: line });
      }
      const canon = (raw: string): string => {
        const colon = raw.indexOf(':');
        return `${raw.slice(0, colon).trim().toLowerCase()}:${raw.slice(colon + 1).replace(/\r\n/g, '').replace(/[ \t]+/g, ' ').trim()}\r\n`;
      };
      const names: string[] = [];
      let signedPart = '';
      for (const name of SIGNED_HEADERS) {
        const field = fields.findLast((f) => f.name === name);
        if (!field) continue;
        names.push(name);
        signedPart += canon(field.raw);
      }
      names.push('from');
      let out = '';
      for (const k of keys) {
        const ed = k.key.asymmetricKeyType === 'ed25519';
        const value = `v=1; a=${ed ? 'ed25519' : 'rsa'}-sha256; c=relaxed/relaxed; d=${k.domain}; s=${k.selector};\r\n t=${Math.floor(now / 1000)}; h=${names.join(':')};\r\n bh=${bh};\r\n b=`;
        const data = Buffer.from(signedPart + canon(`DKIM-Signature: ${value}`).slice(0, -2), 'latin1');
        const b = ed ? sign(null, createHash('sha256').update(data).digest(), k.key) : sign('sha256', data, k.key);
        out += `DKIM-Signature: ${value}${b.toString('base64')}\r\n`;
      }
      return out;
    };
    let seed = 11;
    const next = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    const pick = <T>(a: readonly T[]): T => a[next(a.length)]!;
    const names = ['From', 'to', 'CC', 'Reply-To', 'Subject', 'date', 'Message-ID', 'MIME-Version', 'Content-Type', 'X-Other', 'x-warmup-id', 'List-Unsubscribe', ' from ', 'Received'];
    const bits = ['a', ' ', '  ', '\t', 'b c', '\xa0', '\r', '\xe9', ':', '=?x?='];
    for (let i = 0; i < 1500; i++) {
      let head = '';
      for (let l = 0, lines = next(14); l < lines; l++) {
        const kind = next(10);
        const line = kind === 0 ? pick(['', 'no colon', ' folded', '\tfold  ed ']) : `${kind === 1 ? ' ' : ''}${pick(names)}${pick([':', ' :', ': ', ':  '])}${Array.from({ length: next(5) }, () => pick(bits)).join('')}`;
        head += (l ? pick(['\r\n', '\n', '\r\n']) : '') + line;
      }
      const body = Array.from({ length: next(60) }, () => pick(['a', ' ', '\t', '\r\n', '\n', '\r', '.', '\xe9'])).join('');
      const message = Buffer.from(next(8) === 0 ? head : head + pick(['\r\n\r\n', '\n\n', '\r\n\n', '\n\r\n']) + body, 'latin1');
      const keys = [i % 25 === 0 ? rsa : ed];
      const expected = reference(message, keys, T0);
      expect(dkimSignatures(message, keys, T0), JSON.stringify(message.toString('latin1'))).toBe(expected);
      expect(dkimSignatures(message.toString('latin1'), keys, T0)).toBe(expected);
    }
  });
});
