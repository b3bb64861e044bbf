/**
 * What each of warmup's error classes is, by a registry symbol rather than by
 * class identity: the bundled `warmup status` is one file with its own copy
 * of this module (src/cli/status-bin.ts), and errors thrown by the modules it
 * loads from the rest of the bundle (PostgreSQL's, the plan loader) are of
 * the other copy's classes. `instanceof` answers the same for both.
 */
const BRAND = Symbol.for('warmup.error-class');

function branded(value: unknown, name: string): boolean {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === name;
}

/**
 * The one error type warmup throws on purpose. `code` is a stable UPPER_SNAKE
 * string that callers (and the CLI's exit-code mapping) switch on; the message
 * is for humans and may change.
 */
export class WarmupError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  /** Also true for a WarmupError of another copy of this module (see {@link BRAND}). */
  static override [Symbol.hasInstance](value: unknown): value is WarmupError {
    return branded(value, 'WarmupError');
  }

  get [BRAND](): string {
    return 'WarmupError';
  }

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

  /** Also true for an ExitError of another copy of this module (see {@link BRAND}). */
  static override [Symbol.hasInstance](value: unknown): value is ExitError {
    return branded(value, 'ExitError');
  }

  get [BRAND](): string {
    return 'ExitError';
  }

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
