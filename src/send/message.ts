/**
 * Builds one warm-up message: headers, envelope and rendered bodies.
 *
 * Pure: the caller passes `now` and the id source, so the same inputs always
 * give the same message (nodemailer only adds MIME boundaries when it encodes).
 */
import { WarmupError } from '../util/errors.js';

/** Variables a subject / body / unsubscribe template may use as `{{name}}`. */
export const TEMPLATE_VARIABLES = [
  'recipient',
  'local_part',
  'domain',
  'provider',
  'ip',
  'date',
  'datetime',
  'message_id',
  'warmup_id',
  'unsubscribe_url',
  'seq',
] as const;

/** One of {@link TEMPLATE_VARIABLES}. */
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

const KNOWN = new Set<string>(TEMPLATE_VARIABLES);
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
// Deliberately simple: warm-up addresses come from a plan the operator wrote,
// this only stops obvious mistakes (spaces, brackets, CR/LF header injection).
const ADDRESS = /^[^\s@<>"(),;:\\]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/** What the plan says about one message. */
export interface MessageSpec {
  readonly from: { readonly name?: string; readonly address: string };
  /** MAIL FROM (bounce address); defaults to `from.address`. */
  readonly envelopeFrom?: string;
  readonly to: string;
  /** Templates. */
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
  /** RFC 8058 one-click targets; templates too (values are URL-encoded into them). */
  readonly unsubscribe: { readonly url: string; readonly mailto?: string };
  /** Lane and sequence facts for the templates. */
  readonly provider: string;
  readonly ip: string;
  readonly seq: number;
  /** IANA time zone `{{date}}` is written in (the plan's; default UTC). */
  readonly timezone?: string;
}

/** What varies between runs, injected so building stays pure. */
export interface MessageContext {
  /** Epoch ms, becomes the Date header. */
  readonly now: number;
  /** Returns a fresh token (letters, digits, `-`, `.`); used for Message-ID and X-Warmup-Id. */
  readonly newId: () => string;
}

/** The nodemailer MailComposer fields this module fills in. */
export interface MessageFields {
  readonly from: { readonly name: string; readonly address: string };
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
  readonly date: string;
  readonly messageId: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** A message ready for the mailer. */
export interface BuiltMessage {
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  /** With angle brackets, as in the header. */
  readonly messageId: string;
  /** Value of X-Warmup-Id, lets the seed owner recognise warm-up traffic. */
  readonly warmupId: string;
  readonly fields: MessageFields;
}

/**
 * Build a message from a spec.
 *
 * @example
 * const msg = buildMessage(spec, { now: Date.parse('2026-12-01T08:00:00Z'), newId: () => 'w1' });
 * msg.fields.headers['List-Unsubscribe'] // '<https://example.com/u?id=w1%40example.com>, <mailto:unsub@example.com?subject=w1>'
 *
 * @throws WarmupError `INVALID_ADDRESS`, `INVALID_ID` or `TEMPLATE_UNKNOWN_VARIABLE`
 */
export function buildMessage(spec: MessageSpec, ctx: MessageContext): BuiltMessage {
  const fromAddress = checkAddress(spec.from.address, 'from.address');
  const to = checkAddress(spec.to, 'to');
  const envelopeFrom = checkAddress(spec.envelopeFrom ?? fromAddress, 'envelopeFrom');
  const id = ctx.newId();
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(id)) {
    throw new WarmupError('INVALID_ID', `id generator returned ${JSON.stringify(id)}; expected letters, digits, "." and "-"`);
  }
  const fromDomain = domainOf(fromAddress);
  const messageIdBare = `${id}@${fromDomain}`;
  const [localPart] = to.split('@') as [string];
  const date = formatRfc5322Date(ctx.now);

  const base: Record<Exclude<TemplateVariable, 'unsubscribe_url'>, string> = {
    recipient: to,
    local_part: localPart,
    domain: domainOf(to),
    provider: spec.provider,
    ip: spec.ip,
    // A day where a subject wants one ("summary for Tue, 01 Dec 2026"); the full Date header value is {{datetime}}.
    date: formatDay(ctx.now, spec.timezone ?? 'UTC'),
    datetime: date,
    message_id: messageIdBare,
    warmup_id: id,
    seq: String(spec.seq),
  };
  const unsubscribeUrl = renderTemplate(spec.unsubscribe.url, base, encodeURIComponent);
  // The mailto target is optional: RFC 8058 one-click needs only the https URL.
  const unsubscribeMailto = spec.unsubscribe.mailto === undefined ? null : renderTemplate(spec.unsubscribe.mailto, base, encodeURIComponent);
  if (!/^https:\/\/\S+$/.test(unsubscribeUrl)) {
    throw new WarmupError('INVALID_UNSUBSCRIBE', `unsubscribe.url must be an https URL (got ${JSON.stringify(unsubscribeUrl)})`);
  }
  if (unsubscribeMailto !== null && !/^mailto:\S+$/.test(unsubscribeMailto)) {
    throw new WarmupError('INVALID_UNSUBSCRIBE', `unsubscribe.mailto must be a mailto: URL (got ${JSON.stringify(unsubscribeMailto)})`);
  }
  const vars = Object.assign({}, base, { unsubscribe_url: unsubscribeUrl }); // not `{ ...base, ... }`: see mailer.ts (records)

  const fields: MessageFields = {
    from: { name: oneLine(spec.from.name ?? ''), address: fromAddress },
    to,
    // A rendered variable must never open a new header line.
    subject: oneLine(renderTemplate(spec.subject, vars)),
    text: renderTemplate(spec.text, vars),
    ...(spec.html === undefined ? {} : { html: renderTemplate(spec.html, vars, escapeHtml) }),
    date,
    messageId: `<${messageIdBare}>`,
    headers: {
      'List-Unsubscribe': unsubscribeMailto === null ? `<${unsubscribeUrl}>` : `<${unsubscribeUrl}>, <${unsubscribeMailto}>`,
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      'X-Warmup-Id': id,
    },
  };
  return { envelope: { from: envelopeFrom, to: [to] }, messageId: fields.messageId, warmupId: id, fields };
}

/**
 * Replace `{{name}}` placeholders. `escape` is applied to every substituted
 * value (HTML escaping for the HTML part, URL encoding for URLs).
 *
 * @throws WarmupError `TEMPLATE_UNKNOWN_VARIABLE` for a name not in `vars`
 */
export function renderTemplate(template: string, vars: Readonly<Record<string, string>>, escape: (s: string) => string = (s) => s): string {
  const parts = templateParts(template);
  let out = parts[0]!;
  for (let i = 1; i < parts.length; i += 2) {
    const name = parts[i]!;
    const value = Object.hasOwn(vars, name) ? vars[name] : undefined;
    if (value === undefined) {
      throw new WarmupError('TEMPLATE_UNKNOWN_VARIABLE', `unknown template variable {{${name}}}`, { details: { variable: name } });
    }
    out += escape(value) + parts[i + 1]!;
  }
  return out;
}

/** A template split once into text, name, text, ..., text (every message renders the plan's few templates). */
const splitTemplates = new Map<string, readonly string[]>();
function templateParts(template: string): readonly string[] {
  let parts = splitTemplates.get(template);
  if (!parts) {
    const out: string[] = [];
    let last = 0;
    for (const m of template.matchAll(PLACEHOLDER)) {
      out.push(template.slice(last, m.index), m[1]!);
      last = m.index + m[0].length;
    }
    out.push(template.slice(last));
    parts = out;
    if (splitTemplates.size >= 1000) splitTemplates.clear();
    splitTemplates.set(template, parts);
  }
  return parts;
}

/** Names used in `template` that are not {@link TEMPLATE_VARIABLES}; for plan validation. */
export function unknownTemplateVariables(template: string): string[] {
  const names = [...template.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
  return [...new Set(names.filter((n) => !KNOWN.has(n)))];
}

/** RFC 5322 date-time in UTC, e.g. `Tue, 01 Dec 2026 08:00:00 +0000`. */
export function formatRfc5322Date(epochMs: number): string {
  if (!Number.isFinite(epochMs)) throw new WarmupError('INVALID_DATE', `not a time: ${epochMs}`);
  return new Date(epochMs).toUTCString().replace('GMT', '+0000');
}

/**
 * The calendar day of an instant in a time zone, written as the date part of
 * an RFC 5322 date, e.g. `Tue, 01 Dec 2026`.
 */
export function formatDay(epochMs: number, timezone: string): string {
  if (!Number.isFinite(epochMs)) throw new WarmupError('INVALID_DATE', `not a time: ${epochMs}`);
  // Zone offsets are whole minutes: every instant of a minute is on the same day. Sends come in
  // bursts at one clock reading, so the last minute's answer is kept.
  const minute = Math.floor(epochMs / 60_000);
  if (lastDay.minute === minute && lastDay.timezone === timezone) return lastDay.text;
  const parts: Record<string, string> = {};
  for (const p of dayFormatter(timezone).formatToParts(new Date(epochMs))) parts[p.type] = p.value;
  const text = `${parts.weekday}, ${parts.day} ${parts.month} ${parts.year}`;
  lastDay = { minute, timezone, text };
  return text;
}

let lastDay = { minute: NaN, timezone: '', text: '' };

/** One formatter per time zone: building an Intl.DateTimeFormat costs far more than formatting with it. */
const dayFormatters = new Map<string, Intl.DateTimeFormat>();
function dayFormatter(timezone: string): Intl.DateTimeFormat {
  let f = dayFormatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: timezone, weekday: 'short', day: '2-digit', month: 'short', year: 'numeric' });
    dayFormatters.set(timezone, f);
  }
  return f;
}

function checkAddress(address: string, field: string): string {
  if (!ADDRESS.test(address)) throw new WarmupError('INVALID_ADDRESS', `${field}: not a mail address: ${JSON.stringify(address)}`);
  return address;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
