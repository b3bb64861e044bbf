/**
 * The one error type warmup throws on purpose. `code` is a stable UPPER_SNAKE
 * string that callers (and the CLI's exit-code mapping) switch on; the message
 * is for humans and may change.
 */
export class WarmupError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WarmupError';
    this.code = code;
    this.details = options?.details ? Object.freeze({ ...options.details }) : undefined;
  }
}

/** Thrown by the CLI layers to end the process with a given exit code. */
export class ExitError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message = '') {
    super(message);
    this.name = 'ExitError';
    this.exitCode = exitCode;
  }
}

/** Narrow an unknown thrown value to a message without losing its code. */
export function describeError(err: unknown): string {
  if (err instanceof WarmupError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
