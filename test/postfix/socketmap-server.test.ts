import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startSocketmapServer } from '../../src/postfix/socketmap-server.js';
import { socketmapClient as client } from './harness.js';

const log = pino({ level: 'silent' });

describe('socketmap server', () => {
  it('answers each request of a connection in order with the handler\'s reply, a throw as TEMP', async () => {
    const server = await startSocketmapServer({ kind: 'inet', host: '127.0.0.1', port: 0 }, async (name, key) => {
      if (key === 'boom@x.test') throw new Error('bug');
      await new Promise((r) => setTimeout(r, key.startsWith('slow') ? 30 : 0));
      return key.includes('@') ? `OK ${name}:${key}` : 'NOTFOUND ';
    }, log);
    const [host, port] = server.address.split(':');
    const c = await client({ host, port: Number(port) });
    expect(await c.ask('warmup slow@x.test')).toBe('OK warmup:slow@x.test');
    expect(await c.ask('warmup x.test')).toBe('NOTFOUND ');
    expect(await c.ask('warmup boom@x.test')).toBe('TEMP warmup lookup failed');
    expect(await c.ask('nospace')).toMatch(/^PERM /);
    c.end();
    await server.close();
  });

  it('listens on a unix socket Postfix can reach, and closes a connection that sends garbage', async () => {
    const sockPath = path.join(mkdtempSync(path.join(tmpdir(), 'warmup-sm-')), 'map.sock');
    const server = await startSocketmapServer({ kind: 'unix', path: sockPath }, () => 'OK smtp:', log);
    const c = await client({ path: sockPath });
    expect(await c.ask('warmup a@b.test')).toBe('OK smtp:');
    const closed = c.closed();
    c.raw('xyz:');
    await closed;
    await server.close();
  });

  it('refuses connections once closed (Postfix then defers: the lookup failed temporarily)', async () => {
    const server = await startSocketmapServer({ kind: 'inet', host: '127.0.0.1', port: 0 }, () => 'OK smtp:', log);
    const [host, port] = server.address.split(':');
    await server.close();
    await expect(client({ host, port: Number(port) })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
