import { describe, expect, it } from 'vitest';
import { attemptRecord, localFailure, messageResult, observation, tokenOf } from '../../src/daemon/attempt.js';
import type { DeliveryOutcome } from '../../src/daemon/deliver.js';

const H = 3_600_000;
const retry = { intervalsMs: [H, 4 * H], expireMs: 24 * H };
const answer = (o: Partial<DeliveryOutcome>): DeliveryOutcome => ({
  outcome: 'deferred', code: 421, enhanced: '4.7.0', reply: '421 4.7.0 try again later', stage: 'rcpt', final: false, mailboxSignal: false,
  greylisting: null, rejection: null, mxHost: 'mx.example.com', mxAddress: '127.0.0.1', startedAt: 1000, latencyMs: 12, ...o,
});

describe('messageResult: the message\'s state after an answer', () => {
  it.each([
    ['accepted', answer({ outcome: 'accepted', code: 250, final: false }), 0, 5 * H, { status: 'accepted', at: 5 * H }],
    ['a 5xx bounces it', answer({ outcome: 'bounced', code: 550, final: true }), 0, 5 * H, { status: 'bounced', at: 5 * H }],
    ['a local failure bounces it', localFailure(new Error('bad template'), 5 * H), 0, 5 * H, { status: 'bounced', at: 5 * H }],
    ['a first deferral waits the first interval', answer({}), 0, 2 * H, { status: 'deferred', nextAttemptAt: 3 * H }],
    ['later deferrals wait the last interval', answer({}), 3, 10 * H, { status: 'deferred', nextAttemptAt: 14 * H }],
    ['a network failure is retried like a deferral', answer({ outcome: 'network', code: null }), 0, 2 * H, { status: 'deferred', nextAttemptAt: 3 * H }],
    ['a retry that would fall past the expiry expires it', answer({}), 3, 21 * H, { status: 'expired', at: 21 * H }],
  ])('%s', (_t, out, attempts, at, result) => {
    expect(messageResult(out, { createdAt: 0, attempts }, at, retry)).toEqual(result);
  });
});

describe('attemptRecord and observation', () => {
  const m = { id: 42, day: '2026-12-02', seq: 3, recipient: 'a@gmail.com', token: 'wu-1-20261202-3-abcd', attempts: 2, createdAt: 0 };
  it('records the try with its retry number and whether it failed locally', () => {
    expect(attemptRecord(answer({ greylisting: 'likely' }), m, 9, false)).toEqual({
      messageId: 42, laneId: 9, day: '2026-12-02', startedAt: 1000, latencyMs: 12, mxHost: 'mx.example.com', mxAddress: '127.0.0.1',
      outcome: 'deferred', code: 421, enhanced: '4.7.0', reply: '421 4.7.0 try again later', stage: 'rcpt', retry: 2,
      mailboxSignal: false, greylisting: 'likely', local: false,
    });
    const local = attemptRecord(localFailure(new Error('boom'), 7), m, 9, true);
    expect(local).toMatchObject({ outcome: 'protocol', reply: 'local error: boom', local: true, startedAt: 7, mxHost: null });
  });
  it('gives the rules a seed answer and a routed one alike (missing greylisting and rejection read as none)', () => {
    const lane = { ip: '127.0.0.2', provider: 'gmail' };
    const routed = { outcome: 'deferred', reply: '450 4.2.1 slow down', mailboxSignal: true, code: 450, enhanced: '4.2.1' };
    expect(observation(lane, 'a@gmail.com', routed)).toEqual({
      ip: '127.0.0.2', provider: 'gmail', recipient: 'a@gmail.com', outcome: 'deferred', text: '450 4.2.1 slow down', mailboxSignal: true,
      code: 450, enhanced: '4.2.1', greylisting: null, rejection: null,
    });
    expect(observation(lane, 'a@gmail.com', answer({ outcome: 'bounced', rejection: 'policy' }))).toMatchObject({ rejection: 'policy', text: '421 4.7.0 try again later' });
  });
  it('a retry sends the Message-ID token again', () => {
    expect(tokenOf('wu-1-20261202-3-abcd@news.example.com')).toBe('wu-1-20261202-3-abcd');
  });
});
