import { describe, expect, it } from 'vitest';
import { fleetView, renderFleet } from '../../src/cli/status/fleet.js';
import type { Plan } from '../../src/plan/types.js';

const NOW = Date.parse('2026-11-30T09:12:05Z');
const plan = { ips: ['127.0.0.2', '127.0.0.3', '127.0.0.5', '127.0.0.9'].map((address) => ({ address })) } as unknown as Plan;
const lease = (ip: string, host: string, pid: number, ago: number, unattended = false) => ({ ip, host, pid, acquiredAt: NOW - 60_000, heartbeatAt: NOW - ago, unattendedAt: unattended ? NOW - 500 : null, staleMs: 7_500 });

describe('the fleet in warmup status', () => {
  it('groups the IP leases by daemon, marks the unattended ones and names the IPs nobody holds', () => {
    const v = fleetView(plan, [lease('127.0.0.5', 'b', 7, 9000, true), lease('127.0.0.2', 'a', 5, 1000), lease('127.0.0.3', 'a', 5, 1200)], NOW);
    expect(v.attended).toBe(2);
    expect(v.daemons.map((d) => [d.host, d.pid, d.ips, d.heartbeatAgoMs, d.unattended])).toEqual([['a', 5, ['127.0.0.2', '127.0.0.3'], 1000, []], ['b', 7, ['127.0.0.5'], 9000, ['127.0.0.5']]]);
    expect(v.ips.map((i) => [i.ip, i.host, i.attended])).toEqual([['127.0.0.2', 'a', true], ['127.0.0.3', 'a', true], ['127.0.0.5', 'b', false], ['127.0.0.9', null, false]]);
    const text = renderFleet(v, 'UTC');
    expect(text[1]).toBe('Fleet: 2 daemons, 2 of 4 IPs attended; held by no daemon: 127.0.0.9');
    expect(text[4]).toMatch(/^ {2}a +5 +127\.0\.0\.2 127\.0\.0\.3 +2026-11-30 09:12 \(1s ago\) +sending$/);
    expect(text[5]).toMatch(/UNATTENDED: 127\.0\.0\.5$/);
  });

  it('shows nothing before any daemon took a lease', () => {
    expect(renderFleet(fleetView(plan, [], NOW), 'UTC')).toEqual([]);
  });
});
