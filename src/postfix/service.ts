/**
 * Routing real mail inside `warmup start`: the socketmap server Postfix asks,
 * and the tailer that reads Postfix's deliveries back, wired to the daemon's
 * lanes. Started after the daemon, stopped before it.
 */
import type { Resolver } from '../dns/resolver.js';
import type { Plan, PostfixSettings } from '../plan/types.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { LogTailer } from './log-tailer.js';
import { Router, type LaneSource } from './router.js';
import { startSocketmapServer } from './socketmap-server.js';

export interface PostfixRouting {
  readonly router: Router;
  /** Where Postfix reaches the socketmap (`host:port` or socket path). */
  readonly address: string;
  /** Stops answering first (Postfix then defers), then reading the log after the line in hand. */
  stop(): Promise<void>;
}

export async function startPostfixRouting(o: {
  plan: Plan; settings: PostfixSettings; store: Store; lanes: LaneSource; resolver: Resolver; clock: Clock; log: Logger; pollMs?: number;
}): Promise<PostfixRouting> {
  const log = o.log.child({ component: 'postfix' });
  const router = new Router({ plan: o.plan, settings: o.settings, lanes: o.lanes, resolver: o.resolver, clock: o.clock, log });
  // This host's Postfix: its deferred messages and its log (in a fleet, each host keeps its own).
  const host = o.lanes.host;
  router.rememberDeferred(await o.store.deferredRouted(o.plan.name, host));
  const saved = await o.store.loadLogPosition(o.plan.name, host);
  // A position in another file (the plan's log_file changed) says nothing about this one.
  const start = saved && saved.path === o.settings.logFile ? saved : null;
  const tailer = new LogTailer({
    path: o.settings.logFile, start, log,
    onLines: async (lines, at) => { await router.onLogLines(lines, at); },
    ...(o.pollMs ? { pollMs: o.pollMs } : {}),
  });
  await tailer.poll().catch((e) => log.error({ err: e }, 'reading the Postfix log failed'));
  tailer.start();
  const server = await startSocketmapServer(o.settings.listen, (name, key) => router.lookup(name, key), log).catch(async (e) => {
    await tailer.stop();
    throw e;
  });
  log.info({ socketmap: server.address, log_file: o.settings.logFile, from: start ?? 'end of file' }, 'routing real mail for Postfix');
  let stopping: Promise<void> | null = null;
  return {
    router,
    address: server.address,
    stop: () => (stopping ??= (async () => {
      await server.close();
      await tailer.stop();
      const at = tailer.position;
      if (at) await o.store.saveLogPosition(o.plan.name, host, at, o.clock.now());
      log.info({ counters: router.counters }, 'stopped routing real mail');
    })()),
  };
}
