import { describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/load.js';
import { fixtureDir, validText } from './helpers.js';

// Every plan key that names a server or a listener goes through the one host:port parser.
const file = `${fixtureDir}plan.yaml`;
const load = (extra: string) => loadPlan(`${validText}\n${extra}\n`, { file, env: {} });
const errorAt = (extra: string, path: string) => {
  const r = load(extra);
  if (r.ok) throw new Error(`expected an error at ${path}`);
  const found = r.errors.find((e) => e.path === path);
  if (!found) throw new Error(`no error at ${path}: ${JSON.stringify(r.errors)}`);
  return found.message;
};

describe('host:port keys of the plan', () => {
  it('delivery.routes: host, host:port, [v6]:port and bare IPv6, the delivery port when none is given', () => {
    const r = load('delivery:\n  port: 2525\n  routes: { gmail: "mx.test", yahoo: "127.0.0.53:26", gmail.com: "[::1]:27", yahoo.com: "::1" }');
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(Object.fromEntries(r.plan.delivery.routes)).toEqual({
      gmail: { host: 'mx.test', port: 2525 }, yahoo: { host: '127.0.0.53', port: 26 }, 'gmail.com': { host: '::1', port: 27 }, 'yahoo.com': { host: '::1', port: 2525 },
    });
  });

  it.each([
    ['"mx.test:0"', 'port must be 1-65535 (got 0)'],
    ['"2001:db8::1::25"', 'several colons'],
    ['"[::1"', 'unclosed bracket'],
    ['"not a host"', 'contains a blank'],
  ])('delivery.routes refuses %s', (target, why) => {
    const message = errorAt(`delivery:\n  routes: { gmail: ${target} }`, 'delivery.routes.gmail');
    expect(message).toContain('must be host or host:port');
    expect(message).toContain(why);
  });

  it('delivery.dns_servers: IP, IP:port, [v6]:port and a bare IPv6 address; a name or a bad port is refused', () => {
    expect(load('delivery:\n  dns_servers: ["127.0.0.60", "127.0.0.60:5353", "[::1]:53", "::1"]').ok).toBe(true);
    expect(errorAt('delivery:\n  dns_servers: ["dns.example"]', 'delivery.dns_servers[0]')).toContain('must be an IP address');
    expect(errorAt('delivery:\n  dns_servers: ["127.0.0.60:99999"]', 'delivery.dns_servers[0]')).toContain('port must be 1-65535 (got 99999)');
  });

  it('metrics.listen and postfix.listen need an IP and a port, on loopback', () => {
    const ok = load('metrics: { listen: "[::1]:9464" }\npostfix: { listen: "[::1]:10027", log_file: /var/log/mail.log }');
    if (!ok.ok) throw new Error(JSON.stringify(ok.errors));
    expect(ok.plan.metrics).toEqual({ host: '::1', port: 9464 });
    expect(ok.plan.postfix?.listen).toEqual({ kind: 'inet', host: '::1', port: 10027 });
    expect(errorAt('metrics: { listen: "::1" }', 'metrics.listen')).toContain('no port');
    expect(errorAt('metrics: { listen: "127.0.0.1:0" }', 'metrics.listen')).toContain('port must be 1-65535');
    expect(errorAt('postfix: { listen: "127.0.0.1", log_file: /var/log/mail.log }', 'postfix.listen')).toContain('must be IP:PORT');
    expect(errorAt('postfix: { listen: "192.0.2.1:10027", log_file: /var/log/mail.log }', 'postfix.listen')).toContain('is not a loopback address');
    expect(errorAt('postfix: { listen: "localhost:10027", log_file: /var/log/mail.log }', 'postfix.listen')).toContain('must be IP:PORT');
  });
});
