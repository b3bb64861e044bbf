import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * The one logger factory. Only entry points call it; components get children
 * (`log.child({ component: 'sender', ip, provider })`).
 */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  const level = options.level ?? process.env.WARMUP_LOG_LEVEL ?? 'info';
  const base = { level, base: { app: 'warmup' }, timestamp: pino.stdTimeFunctions.isoTime };
  return options.destination ? pino(base, options.destination) : pino(base);
}
