/**
 * The pure parts of placement: folder order, engagement draws, fault
 * classification and backoff, header parsing. Table-driven, fixed inputs.
 */
import { describe, expect, it } from 'vitest';
import { engagementActions, engagementDue, jitteredPause, seededRandom } from '../../src/placement/engage.js';
import { backoffMs, classifyImapError } from '../../src/placement/faults.js';
import { searchOrder, type FolderInfo } from '../../src/placement/folders.js';
import { arrivalOf, parseHeaders, tokenOf } from '../../src/placement/imap.js';
import type { Engagement } from '../../src/plan/types.js';
import { WarmupError } from '../../src/util/errors.js';

const f = (path: string, specialUse: string | null = null, flags: string[] = []): FolderInfo => ({ path, specialUse, flags: new Set(flags) });

describe('searchOrder', () => {
  it.each([
    ['Dovecot with SPECIAL-USE', [f('INBOX'), f('Junk', '\\Junk'), f('Archive')], [['INBOX', 'inbox'], ['Junk', 'spam'], ['Archive', 'other']]],
    ['Gmail', [f('INBOX'), f('[Gmail]', null, ['\\Noselect']), f('[Gmail]/All Mail', '\\All'), f('[Gmail]/Sent Mail', '\\Sent'), f('[Gmail]/Spam', '\\Junk'), f('Receipts')],
      [['INBOX', 'inbox'], ['[Gmail]/Spam', 'spam'], ['Receipts', 'other']]],
    ['Yahoo without SPECIAL-USE', [f('Inbox'), f('Bulk'), f('Draft', null, ['\\Drafts'])], [['Inbox', 'inbox'], ['Bulk', 'spam']]],
    ['Outlook name, case-insensitive', [f('INBOX'), f('junk email'), f('Spam')], [['INBOX', 'inbox'], ['junk email', 'spam'], ['Spam', 'other']]],
    ['\\Junk wins over a folder named Spam', [f('INBOX'), f('Spam'), f('Filtered', '\\Junk')], [['INBOX', 'inbox'], ['Filtered', 'spam'], ['Spam', 'other']]],
    ['no spam folder at all', [f('INBOX'), f('Trash', '\\Trash')], [['INBOX', 'inbox'], ['Trash', 'other']]],
  ])('%s', (_name, folders, expected) => {
    expect(searchOrder(folders).map((x) => [x.path, x.kind])).toEqual(expected);
  });
});

const engagement: Engagement = { markRead: true, moveToInbox: true, flag: false, share: 0.5, delayMs: { min: 600_000, max: 1_200_000 }, maxPerPoll: 5, paceMs: 20_000 };

describe('engagement draws', () => {
  it('gives the same choices for the same seed', () => {
    const draw = (seed: number) => { const r = seededRandom(seed); return Array.from({ length: 20 }, (_, i) => engagementDue(engagement, 'spam', i, r)); };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it.each([
    ['off', null, 'spam', [0], null],
    ['missing messages are never engaged', engagement, 'missing', [0], null],
    ['not chosen (draw at or above share)', engagement, 'inbox', [0.5], null],
    ['chosen, earliest', engagement, 'inbox', [0.1, 0], 1_000 + 600_000],
    ['chosen, latest', engagement, 'spam', [0.49, 1], 1_000 + 1_200_000],
  ] as const)('%s', (_name, e, placement, draws, expected) => {
    const queue = [...draws];
    expect(engagementDue(e, placement, 1_000, () => queue.shift()!)).toBe(expected);
  });

  it.each([
    ['spam folder, server can MOVE', 'spam', true, { markRead: true, flag: false, moveToInbox: true }],
    ['spam folder, no MOVE: never the copy-and-delete fallback', 'spam', false, { markRead: true, flag: false, moveToInbox: false }],
    ['inbox: nothing to move', 'inbox', true, { markRead: true, flag: false, moveToInbox: false }],
    ['other folder: left where it is', 'other', true, { markRead: true, flag: false, moveToInbox: false }],
  ] as const)('actions: %s', (_name, kind, canMove, expected) => {
    expect(engagementActions(engagement, kind, canMove)).toEqual(expected);
  });

  it.each([[0, 10_000], [0.5, 20_000], [0.999, 29_980]])('paces around the mean (draw %s)', (draw, expected) => {
    expect(jitteredPause(20_000, () => draw)).toBe(expected);
  });
});

describe('classifyImapError', () => {
  it.each([
    ['wrong password', Object.assign(new Error('Authentication failed'), { authenticationFailed: true, responseText: 'Authentication failed.' }), 'IMAP_AUTH', null],
    ['nothing listens', Object.assign(new Error('connect ECONNREFUSED 127.0.0.141:143'), { code: 'ECONNREFUSED' }), 'IMAP_CONNECT', null],
    ['greeting timeout', Object.assign(new Error('Failed to receive greeting'), { code: 'GREETING_TIMEOUT' }), 'IMAP_TIMEOUT', null],
    ['socket timeout', Object.assign(new Error('Socket timeout'), { code: 'ETIMEOUT' }), 'IMAP_TIMEOUT', null],
    ['throttled with a hint', Object.assign(new Error('Throttled'), { code: 'ETHROTTLE', throttleReset: 30_000 }), 'IMAP_THROTTLED', 30_000],
    ['BYE: too many connections', Object.assign(new Error('Unexpected close'), { code: 'EConnectionClosed', reason: 'Too many connections' }), 'IMAP_THROTTLED', null],
    ['connection dropped', Object.assign(new Error('Unexpected close'), { code: 'EConnectionClosed' }), 'IMAP_CLOSED', null],
    ['NO with a rate text', Object.assign(new Error('Command failed'), { responseText: '[LIMIT] Too many commands, try again later' }), 'IMAP_THROTTLED', null],
    ['password missing', new WarmupError('IMAP_PASSWORD_MISSING', 'environment variable X is not set'), 'IMAP_PASSWORD_MISSING', null],
    ['anything else', new Error('Unexpected'), 'IMAP_ERROR', null],
  ])('%s', (_name, error, code, retryAfterMs) => {
    expect(classifyImapError(error)).toMatchObject({ code, retryAfterMs });
  });
});

describe('backoffMs', () => {
  it.each([
    [1, 300_000, 3_600_000, null, 300_000],
    [2, 300_000, 3_600_000, null, 600_000],
    [4, 300_000, 3_600_000, null, 2_400_000],
    [5, 300_000, 3_600_000, null, 3_600_000],
    [30, 300_000, 3_600_000, null, 3_600_000],
    [1, 300_000, 3_600_000, 900_000, 900_000],
    [3, 7_200_000, 3_600_000, null, 7_200_000],
  ])('failure %i at a %i ms interval, cap %i, server hint %s -> %i', (failures, interval, cap, hint, expected) => {
    expect(backoffMs(failures, interval, cap, hint)).toBe(expected);
  });
});

describe('message headers', () => {
  it('reads folded headers, the token and the arrival time', () => {
    const h = parseHeaders('Message-ID: <w1.abc@news.example.com>\r\nX-Warmup-Id: w1.abc\r\nReceived: from mta (unknown [127.0.0.39])\r\n\tby mx.postfix.test; Tue, 1 Dec 2026 08:00:05 +0000 (UTC)\r\nReceived: older\r\n\r\n');
    expect(h.get('message-id')).toEqual(['<w1.abc@news.example.com>']);
    expect(h.get('received')).toHaveLength(2);
    expect(tokenOf('w1.abc@news.example.com')).toBe('w1.abc');
    expect(arrivalOf(undefined, h.get('received')![0])).toBe(Date.parse('2026-12-01T08:00:05Z'));
    expect(arrivalOf(new Date('2026-12-01T08:00:07Z'), h.get('received')![0])).toBe(Date.parse('2026-12-01T08:00:07Z'));
    expect(arrivalOf(undefined, undefined)).toBeNull();
  });
});
