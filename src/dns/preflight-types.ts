/** One line of the preflight checklist. */
export interface PreflightItem {
  /** Stable id, e.g. `ip.bind`, `spf.ip`, `dkim.key`, `mx`; with `subject` it names the line. */
  readonly id: string;
  /** What was checked: an IP, a domain, a provider. */
  readonly subject: string;
  readonly status: 'pass' | 'warn' | 'fail';
  readonly message: string;
  /** One line that fixes a warning or failure (often the exact DNS record to publish). */
  readonly fix?: string;
}

export type PreflightStatus = PreflightItem['status'];

/** The worst status of a list: fail > warn > pass. */
export function worstOf(items: readonly Pick<PreflightItem, 'status'>[]): PreflightStatus {
  return items.some((i) => i.status === 'fail') ? 'fail' : items.some((i) => i.status === 'warn') ? 'warn' : 'pass';
}

/** Builds an item, leaving `fix` out when there is none. */
export function item(id: string, subject: string, status: PreflightStatus, message: string, fix?: string): PreflightItem {
  return fix === undefined ? { id, subject, status, message } : { id, subject, status, message, fix };
}
