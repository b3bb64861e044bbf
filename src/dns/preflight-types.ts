/** One line of the preflight checklist. */
export interface PreflightItem {
  /** Stable id, e.g. `ip.bind`, `spf.ip`, `dkim.key`, `mx`; with `subject` it names the line. */
  readonly id: string;
  /** What was checked: an IP, a domain, a provider. */
  readonly subject: string;
  /** `unknown`: could not be checked (the resolver or every DNSBL zone is broken): neither ok nor failed. */
  readonly status: 'pass' | 'warn' | 'unknown' | 'fail';
  readonly message: string;
  /** One line that fixes a warning or failure (often the exact DNS record to publish). */
  readonly fix?: string;
}

export type PreflightStatus = PreflightItem['status'];

/** The worst status of a list: fail > warn > unknown > pass (an unknown is not an ok). */
export function worstOf(items: readonly Pick<PreflightItem, 'status'>[]): PreflightStatus {
  for (const s of ['fail', 'warn', 'unknown'] as const) if (items.some((i) => i.status === s)) return s;
  return 'pass';
}

/** Builds an item, leaving `fix` out when there is none. */
export function item(id: string, subject: string, status: PreflightStatus, message: string, fix?: string): PreflightItem {
  return fix === undefined ? { id, subject, status, message } : { id, subject, status, message, fix };
}
