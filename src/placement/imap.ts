/**
 * The narrow IMAP interface placement needs, and its one real implementation
 * on imapflow. Everything else in src/placement talks to `ImapSession` only.
 */
import { readFile } from 'node:fs/promises';
import { ImapFlow, type SearchObject } from 'imapflow';
import type { ImapAccess } from '../plan/types.js';
import { WarmupError } from '../util/errors.js';
import type { EngagementActions } from './engage.js';
import type { FolderInfo } from './folders.js';

/** One of our messages found in a folder. */
export interface FoundMessage {
  /** The Message-ID without angle brackets, as stored in `messages.message_id`. */
  readonly messageId: string;
  readonly uid: number;
  /** Server's arrival time (INTERNALDATE, else the top Received date), epoch ms on the server's clock. */
  readonly arrivedAt: number | null;
}

/** A logged-in connection to one seed mailbox. */
export interface ImapSession {
  /** The server can MOVE (RFC 6851); without it engagement never moves (the fallback deletes). */
  readonly canMove: boolean;
  folders(): Promise<FolderInfo[]>;
  /**
   * Which of `messageIds` (bare) are in `folder`, by Message-ID or X-Warmup-Id header. With
   * `since`, only messages that arrived on or after that (UTC) date are searched: the server
   * then leaves the folder's older history unread instead of matching headers on all of it.
   */
  find(folder: string, messageIds: readonly string[], since?: Date): Promise<FoundMessage[]>;
  /** Applies the actions to the message in `folder`; returns what was done ([] when the message is not there any more). */
  engage(folder: string, messageId: string, actions: EngagementActions, inboxPath: string): Promise<string[]>;
  /** Logs out (or drops the connection when that fails). */
  close(): Promise<void>;
  /** Drops the connection at once (stop()). */
  abort(): void;
}

export interface ImapTimeouts {
  readonly connectMs: number;
  readonly greetingMs: number;
  /** Inactivity on an open connection. */
  readonly socketMs: number;
}

/** Opens a session; rejects on connection or login failure, or when `signal` aborts (stop()). */
export type ImapConnect = (access: ImapAccess, password: string, timeouts: ImapTimeouts, signal?: AbortSignal) => Promise<ImapSession>;

/**
 * Reads a seed's IMAP password from its environment variable or file (e.g. a
 * systemd credential under $CREDENTIALS_DIRECTORY), at the moment it is used.
 * The value is never logged or stored.
 *
 * @throws WarmupError IMAP_PASSWORD_MISSING
 */
export async function readImapPassword(access: ImapAccess, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if ('env' in access.password) {
    const v = env[access.password.env];
    if (v === undefined || v === '') throw new WarmupError('IMAP_PASSWORD_MISSING', `environment variable ${access.password.env} is not set`);
    return v;
  }
  const file = access.password.file;
  try {
    // One trailing newline is what editors and `echo` leave; the password itself has none.
    return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  } catch (e) {
    throw new WarmupError('IMAP_PASSWORD_MISSING', `cannot read password file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

// ~20 messages per SEARCH keeps the OR tree (two terms each) short enough for any server.
const SEARCH_CHUNK = 20;

/** The real {@link ImapConnect}, on imapflow. */
export const connectImap: ImapConnect = async (access, password, timeouts, signal) => {
  const client = new ImapFlow({
    host: access.host,
    port: access.port,
    secure: access.tls,
    auth: { user: access.user, pass: password },
    // imapflow would otherwise log through its own pino at info level, protocol lines included.
    logger: false,
    disableAutoIdle: true,
    connectionTimeout: timeouts.connectMs,
    greetingTimeout: timeouts.greetingMs,
    socketTimeout: timeouts.socketMs,
  });
  // An 'error' event without a listener would crash the process; the failing call rejects anyway.
  client.on('error', () => {});
  // A server that accepts but never greets would otherwise hold stop() for the greeting timeout.
  const abort = () => client.close();
  if (signal?.aborted) throw new WarmupError('IMAP_ABORTED', 'stopped before connecting');
  signal?.addEventListener('abort', abort, { once: true });
  try {
    await client.connect();
  } finally {
    signal?.removeEventListener('abort', abort);
  }
  return new FlowSession(client);
};

class FlowSession implements ImapSession {
  readonly #client: ImapFlow;

  constructor(client: ImapFlow) {
    this.#client = client;
  }

  get canMove(): boolean {
    return this.#client.capabilities.has('MOVE');
  }

  async folders(): Promise<FolderInfo[]> {
    const list = await this.#client.list();
    // Only what the server itself says counts as special-use: imapflow's name guesses
    // ('name' source) would let a folder called "Junk" win over one flagged \Junk.
    return list.map((f) => ({
      path: f.path,
      specialUse: f.specialUse && f.specialUseSource !== 'name' ? f.specialUse : null,
      flags: f.flags,
    }));
  }

  async find(folder: string, messageIds: readonly string[], since?: Date): Promise<FoundMessage[]> {
    const lock = await this.#client.getMailboxLock(folder, { readOnly: true });
    try {
      const found: FoundMessage[] = [];
      for (let i = 0; i < messageIds.length; i += SEARCH_CHUNK) {
        const chunk = messageIds.slice(i, i + SEARCH_CHUNK);
        const byId = new Map(chunk.map((id) => [id.toLowerCase(), id]));
        const byToken = new Map(chunk.map((id) => [tokenOf(id).toLowerCase(), id]));
        const terms = chunk.flatMap(idTerms);
        // SINCE and the OR tree are ANDed: the server checks the cheap arrival date first.
        const uids = await this.#client.search(since ? { since, or: terms } : { or: terms }, { uid: true });
        if (!uids || uids.length === 0) continue;
        const seen = new Set<string>();
        for await (const m of this.#client.fetch(uids, { uid: true, internalDate: true, headers: ['message-id', 'x-warmup-id', 'received'] }, { uid: true })) {
          const h = parseHeaders(m.headers?.toString('utf8') ?? '');
          const mid = h.get('message-id')?.[0]?.replace(/^<|>$/g, '').toLowerCase();
          const token = h.get('x-warmup-id')?.[0]?.toLowerCase();
          // HEADER search is a substring match: only an exact header value counts.
          const id = (mid !== undefined ? byId.get(mid) : undefined) ?? (token !== undefined ? byToken.get(token) : undefined);
          if (id === undefined || seen.has(id)) continue;
          seen.add(id);
          found.push({ messageId: id, uid: m.uid, arrivedAt: arrivalOf(m.internalDate, h.get('received')?.[0]) });
        }
      }
      return found;
    } finally {
      lock.release();
    }
  }

  async engage(folder: string, messageId: string, actions: EngagementActions, inboxPath: string): Promise<string[]> {
    const lock = await this.#client.getMailboxLock(folder);
    try {
      const found = await this.#client.search({ or: idTerms(messageId) }, { uid: true });
      if (!found || found.length === 0) return [];
      const uids = found.slice(0, 1);
      const done: string[] = [];
      const flags = [...(actions.markRead ? ['\\Seen'] : []), ...(actions.flag ? ['\\Flagged'] : [])];
      if (flags.length > 0 && await this.#client.messageFlagsAdd(uids, flags, { uid: true })) {
        if (actions.markRead) done.push('read');
        if (actions.flag) done.push('flag');
      }
      // Only with the server's MOVE: imapflow's fallback is COPY + \Deleted + EXPUNGE.
      if (actions.moveToInbox && this.canMove && await this.#client.messageMove(uids, inboxPath, { uid: true })) done.push('move');
      return done;
    } finally {
      lock.release();
    }
  }

  async close(): Promise<void> {
    try {
      await this.#client.logout();
    } catch {
      this.#client.close();
    }
  }

  abort(): void {
    this.#client.close();
  }
}

/** Search terms for one message: its Message-ID header, or its X-Warmup-Id (in case a relay rewrote the Message-ID). */
function idTerms(messageId: string): SearchObject[] {
  return [{ header: { 'message-id': `<${messageId}>` } }, { header: { 'x-warmup-id': tokenOf(messageId) } }];
}

/** The X-Warmup-Id value: the Message-ID's part before '@'. */
export function tokenOf(messageId: string): string {
  const at = messageId.indexOf('@');
  return at < 0 ? messageId : messageId.slice(0, at);
}

/** Header name (lower-case) -> values in order, continuation lines unfolded. */
export function parseHeaders(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const unfolded = text.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const m = /^([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const name = m[1]!.toLowerCase();
    out.set(name, [...(out.get(name) ?? []), m[2]!.trim()]);
  }
  return out;
}

/** INTERNALDATE, else the date after the last ';' of the topmost Received header. */
export function arrivalOf(internalDate: Date | string | undefined, topReceived: string | undefined): number | null {
  const d = internalDate === undefined ? NaN : new Date(internalDate).getTime();
  if (Number.isFinite(d)) return d;
  const semi = topReceived?.lastIndexOf(';') ?? -1;
  if (topReceived === undefined || semi < 0) return null;
  const r = Date.parse(topReceived.slice(semi + 1).trim());
  return Number.isFinite(r) ? r : null;
}
