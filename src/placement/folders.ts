/**
 * Which IMAP folders to search, and what finding a message in each means.
 * Pure: takes the server's folder list, returns the search order.
 */

/** One folder as the server lists it (the subset of imapflow's ListResponse we read). */
export interface FolderInfo {
  readonly path: string;
  /** `\Junk`, `\Sent`, ... from SPECIAL-USE (RFC 6154), when the server says so. */
  readonly specialUse: string | null;
  /** LIST attributes, e.g. `\Noselect`. */
  readonly flags: ReadonlySet<string>;
}

export type FolderKind = 'inbox' | 'spam' | 'other';

/** A folder to search, in order. */
export interface SearchFolder {
  readonly path: string;
  readonly kind: FolderKind;
}

/**
 * Providers' spam folder names, tried in this order when no folder carries
 * SPECIAL-USE `\Junk`: Gmail, Yahoo (Bulk / Bulk Mail), Outlook, the common ones.
 */
export const SPAM_FOLDER_NAMES: readonly string[] = Object.freeze(['[Gmail]/Spam', 'Bulk', 'Bulk Mail', 'Junk Email', 'Junk', 'Spam']);

// Folders where our mail cannot land by delivery: searching them costs time and, for \All
// (Gmail's All Mail), would report an archived inbox message as "other".
const SKIP_SPECIAL = new Set(['\\sent', '\\drafts', '\\all', '\\flagged', '\\important']);
const UNSELECTABLE = new Set(['\\noselect', '\\nonexistent']);

/**
 * Orders the folders to search: INBOX, then the spam folder (SPECIAL-USE
 * `\Junk` first, else the first of {@link SPAM_FOLDER_NAMES} that exists,
 * matched case-insensitively), then every other selectable folder except
 * Sent, Drafts and virtual ones (All Mail, Flagged, Important).
 *
 * @example
 * searchOrder([{ path: 'INBOX', ... }, { path: 'Bulk', ... }, { path: 'Receipts', ... }])
 * // [{ path: 'INBOX', kind: 'inbox' }, { path: 'Bulk', kind: 'spam' }, { path: 'Receipts', kind: 'other' }]
 */
export function searchOrder(folders: readonly FolderInfo[]): SearchFolder[] {
  const selectable = folders.filter((f) => ![...f.flags].some((x) => UNSELECTABLE.has(x.toLowerCase())));
  const inbox = selectable.find((f) => f.path.toUpperCase() === 'INBOX' || f.specialUse?.toLowerCase() === '\\inbox');
  const spam = selectable.find((f) => f.specialUse?.toLowerCase() === '\\junk')
    ?? SPAM_FOLDER_NAMES.map((n) => selectable.find((f) => f.path.toLowerCase() === n.toLowerCase())).find((f) => f !== undefined);
  const out: SearchFolder[] = [];
  if (inbox) out.push({ path: inbox.path, kind: 'inbox' });
  if (spam) out.push({ path: spam.path, kind: 'spam' });
  for (const f of selectable) {
    if (f === inbox || f === spam) continue;
    const special = f.specialUse?.toLowerCase();
    const flagged = [...f.flags].some((x) => SKIP_SPECIAL.has(x.toLowerCase()));
    if ((special && SKIP_SPECIAL.has(special)) || flagged) continue;
    out.push({ path: f.path, kind: 'other' });
  }
  return out;
}
