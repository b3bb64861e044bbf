import { describe, expect, it } from 'vitest';
import { evidenceLine, evidenceOf, replyKey, topReplies } from '../../src/policy/evidence.js';
import { replyShape } from '../../src/policy/reply-shape.js';

describe('replyKey', () => {
  it.each([
    ['recipient addresses', '450 4.2.0 <a1@grey.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/grey.test.html',
      '450 4.2.0 <zz-9@grey.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/grey.test.html'],
    ['Gmail message ids', '550 5.7.1 ... blocked. a640c23a62f3a-ad8a1b2c3d4si12345666b.210 - gsmtp', '550 5.7.1 ... blocked. 5b1f17b1804b1-45a1c2f3b0dsi1234f.9 - gsmtp'],
    ['Microsoft server names and timestamps', '550 5.7.1 block list (S3150). [AM4PEPF00027A60.eurprd04.prod.outlook.com 2025-03-04T10:11:12.345Z 08DD5A1B2C3D4E60]',
      '550 5.7.1 block list (S3150). [DM6NAM12FT055.eop-nam12.prod.protection.outlook.com 2025-03-05T11:00:00.000Z 08DD5A1B2C3D4E99]'],
  ])('groups replies that differ only by %s', (_what, a, b) => {
    expect(replyKey(a)).toBe(replyKey(b));
  });

  it('groups replies that warmup status counts as one (their replyShape is the same)', () => {
    const a = '451 4.3.0 <a@x.test>: queue file write error, queue id ABCDEFABCDEF';
    const b = '451 4.3.0 <b@y.test>: queue file write error, queue id FEDCBAFEDCBA';
    expect(replyShape(a)).toBe(replyShape(b));
    expect(replyKey(a)).toBe(replyKey(b));
  });

  it('keeps IP addresses and codes apart', () => {
    expect(replyKey('554 5.7.1 client [127.0.0.11] rejected')).not.toBe(replyKey('554 5.7.1 client [127.0.0.12] rejected'));
    expect(replyKey('450 4.7.1 too much mail')).not.toBe(replyKey('451 4.7.1 too much mail'));
  });
});

describe('topReplies', () => {
  it('counts groups, most frequent first, each shown by its first reply as received', () => {
    const grey = (n: number) => ({ text: `450 4.2.0 <s${n}@grey.test>: Recipient address rejected: Greylisted`, code: 450, enhanced: '4.2.0' });
    const top = topReplies([
      { text: '451 4.3.0 Temporary local problem', code: 451, enhanced: '4.3.0' },
      grey(1), grey(2), grey(3),
      { text: '554 5.7.1 blocked', code: 554, enhanced: '5.7.1', count: 2 },
      { text: 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.57:25', code: null, enhanced: null },
    ]);
    expect(top).toEqual([
      { reply: '450 4.2.0 <s1@grey.test>: Recipient address rejected: Greylisted', code: 450, enhanced: '4.2.0', count: 3 },
      { reply: '554 5.7.1 blocked', code: 554, enhanced: '5.7.1', count: 2 },
      { reply: '451 4.3.0 Temporary local problem', code: 451, enhanced: '4.3.0', count: 1 },
    ]);
  });

  it('is empty without replies', () => {
    expect(topReplies([])).toEqual([]);
  });
});

describe('evidenceLine and evidenceOf', () => {
  it('writes evidence in one line and reads it back from a stored cause', () => {
    const evidence = [{ reply: '554 5.7.1 poor IP reputation', code: 554, enhanced: '5.7.1', count: 8 }, { reply: `450 ${'x'.repeat(200)}`, code: 450, enhanced: null, count: 1 }];
    expect(evidenceLine(evidence, 20)).toBe('8x 554 5.7.1 poor IP...; 1x 450 xxxxxxxxxxxxx...');
    expect(evidenceOf(JSON.parse(JSON.stringify({ evidence })))).toEqual(evidence);
    expect(evidenceOf({ evidence: [{ reply: 3 }, 'x', null] })).toEqual([]);
    expect(evidenceOf({})).toEqual([]);
  });
});
