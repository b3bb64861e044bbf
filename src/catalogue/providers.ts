/**
 * The built-in provider catalogue: the mailbox providers a launch meets, with
 * their recipient domains, the MX suffixes that roll other domains up into
 * them, the simulator profile that models them, the built-in rule family that
 * applies, and a suggested first-day volume per IP. Pure data.
 *
 * Facts come from shared/reference/deliverability.md and the providers' own
 * pages (listed in `sources`). Receivers publish almost none of the figures a
 * warm-up needs (hourly limits per IP, per-mailbox limits): those come from the
 * simulator profile and are guesses; `guesses` names every such figure.
 */

export interface CatalogueProvider {
  /** The name a plan uses: `providers: { gmail: { seeds_file: ... } }`. */
  readonly id: string;
  readonly label: string;
  /** Other names a plan may give this provider (outlook -> microsoft's consumer mail is `outlook`). */
  readonly aliases: readonly string[];
  readonly domains: readonly string[];
  /** Lower case, each starting with a dot. */
  readonly mxSuffixes: readonly string[];
  /** Simulator profile (src/simulate/profiles.ts) and the source of the per-IP and per-mailbox limits. */
  readonly profile: string;
  /** Built-in rule family (src/policy/builtin-rules.ts) that applies to this provider, or null. */
  readonly ruleFamily: string | null;
  /** Suggested first-day volume per IP (practitioners: 50-100 per provider per IP). */
  readonly rampStart: number;
  /** One-line facts an operator should know. */
  readonly notes: readonly string[];
  /** Which figures are guesses rather than published facts. */
  readonly guesses: readonly string[];
  readonly sources: readonly string[];
}

const LIMITS_GUESS = 'per-IP hourly limits and per-mailbox limits (simulator profile): not published, estimated';

export const CATALOGUE: readonly CatalogueProvider[] = Object.freeze([
  {
    id: 'gmail', label: 'Gmail (Google consumer mail; Workspace domains share the MX)', aliases: ['google', 'googlemail', 'google-workspace', 'workspace'],
    domains: ['gmail.com', 'googlemail.com'], mxSuffixes: ['.google.com', '.googlemail.com'],
    profile: 'gmail', ruleFamily: 'gmail', rampStart: 50,
    notes: [
      'the slowest to warm: 4-6 weeks is common',
      'bulk sender at about 5,000 messages a day to personal accounts: SPF, DKIM, DMARC, one-click unsubscribe required',
      '421 4.7.28 rate limits the IP; 450 4.2.1 is one mailbox over its rate, not an IP signal',
    ],
    guesses: [LIMITS_GUESS],
    sources: ['deliverability.md (warmup reference)', 'https://support.google.com/a/answer/81126'],
  },
  {
    id: 'yahoo', label: 'Yahoo and AOL (US/EU)', aliases: ['aol', 'ymail'],
    domains: ['yahoo.com', 'yahoo.co.uk', 'yahoo.fr', 'ymail.com', 'rocketmail.com', 'aol.com'], mxSuffixes: ['.yahoodns.net'],
    profile: 'yahoo', ruleFamily: 'yahoo', rampStart: 50,
    notes: ['[TSS04] defers for volume or complaints: suspend about 2 h', '[TS03] is a permanent deferral: pause the IP at Yahoo', '[BL..] means a DNSBL listing'],
    guesses: [LIMITS_GUESS],
    sources: ['deliverability.md (warmup reference)', 'https://senders.yahooinc.com/best-practices/'],
  },
  {
    id: 'outlook', label: 'Microsoft consumer (Outlook.com, Hotmail, Live, MSN)', aliases: ['microsoft', 'hotmail', 'live', 'msn', 'office365', 'o365'],
    domains: ['outlook.com', 'hotmail.com', 'live.com', 'msn.com', 'hotmail.co.uk', 'hotmail.fr', 'outlook.fr', 'live.fr', 'outlook.jp'],
    mxSuffixes: ['.outlook.com', '.protection.outlook.com'],
    profile: 'microsoft', ruleFamily: 'microsoft', rampStart: 50,
    notes: [
      '451 4.7.650 (S775): IP reputation throttle: one connection, very low rate, about 90 minutes',
      'S3150 blocks follow from not slowing down after 4xx (Microsoft staff)',
      '550 5.7.515 above about 5,000 a day without SPF, DKIM and DMARC',
    ],
    guesses: [LIMITS_GUESS, 'country domains beyond outlook.com, hotmail.com, live.com, msn.com: a selection'],
    sources: ['deliverability.md (warmup reference)', 'https://sendersupport.olc.protection.outlook.com/pm/'],
  },
  {
    id: 'icloud', label: 'Apple iCloud Mail', aliases: ['apple', 'me', 'mac'],
    domains: ['icloud.com', 'me.com', 'mac.com'], mxSuffixes: ['.mail.icloud.com'],
    profile: 'apple', ruleFamily: 'apple', rampStart: 30,
    notes: ['[HCM1] deferrals: suspend about 15 minutes', 'some greylisting of new senders'],
    guesses: [LIMITS_GUESS, 'greylisting share', 'MX suffix (from public DNS; it may change)'],
    sources: ['deliverability.md (warmup reference)', 'https://support.apple.com/en-us/102322'],
  },
  {
    id: 'gmx', label: 'GMX and WEB.DE (1&1 Mail & Media)', aliases: ['webde', 'web-de', 'united-internet'],
    domains: ['gmx.de', 'gmx.net', 'gmx.com', 'web.de'], mxSuffixes: ['.gmx.net', '.web.de'],
    profile: 'gmx', ruleFamily: 'gmx', rampStart: 50,
    notes: ['421 "Too many messages": slow down; 554 "Reject due to policy restrictions" or "block listed": suspend about 2 h'],
    guesses: [LIMITS_GUESS, 'MX suffixes (from public DNS; they may change)'],
    sources: ['deliverability.md (warmup reference)'],
  },
  {
    id: 'orange', label: 'Orange (France)', aliases: ['wanadoo'],
    domains: ['orange.fr', 'wanadoo.fr'], mxSuffixes: ['.orange.fr'],
    profile: 'orange', ruleFamily: 'orange', rampStart: 30,
    notes: ['OFR004_104: too many connections (use one); OFR_999: refusal, suspend about 1 h'],
    guesses: [LIMITS_GUESS, 'MX suffix (from public DNS; it may change)'],
    sources: ['deliverability.md (warmup reference)'],
  },
  {
    id: 'yahoo-japan', label: 'Yahoo! JAPAN Mail', aliases: ['yahoojp', 'yahoo-jp'],
    domains: ['yahoo.co.jp', 'ymail.ne.jp'], mxSuffixes: ['.mail.yahoo.co.jp'],
    profile: 'yahoo-japan', ruleFamily: 'yahoo-japan', rampStart: 30,
    notes: ['"VS98-IP0 ... deferred": the IP is deferred, suspend about 1 h', 'a separate company from Yahoo US: its own reputation'],
    guesses: [LIMITS_GUESS, 'MX suffix (from public DNS; it may change)'],
    sources: ['deliverability.md (warmup reference)'],
  },
  {
    id: 'docomo', label: 'NTT docomo (carrier mail)', aliases: ['ntt-docomo'],
    domains: ['docomo.ne.jp'], mxSuffixes: ['.docomo.ne.jp'],
    profile: 'docomo', ruleFamily: 'docomo', rampStart: 20,
    notes: [
      'blocks networks that send to many unknown users: keep seed lists clean (550 Unknown user)',
      'users allow-list sender domains on the phone: many 5xx may be that, not reputation',
    ],
    guesses: [LIMITS_GUESS, 'MX suffix', 'the whole simulator profile: docomo publishes no limits or reply catalogue'],
    sources: ['deliverability.md (warmup reference)'],
  },
  {
    id: 'au', label: 'au by KDDI (carrier mail)', aliases: ['kddi', 'ezweb'],
    domains: ['ezweb.ne.jp', 'au.com', 'biz.ezweb.ne.jp'], mxSuffixes: ['.ezweb.ne.jp'],
    profile: 'au', ruleFamily: 'au', rampStart: 20,
    notes: ['may answer with a TCP reset when blocking or congested: counted as a deferral (rule au-reset)', 'users allow-list sender domains on the phone'],
    guesses: [LIMITS_GUESS, 'MX suffix', 'the whole simulator profile: KDDI publishes no limits; the simulator models a reset as a 421 reply'],
    sources: ['deliverability.md (warmup reference)'],
  },
  {
    id: 'softbank', label: 'SoftBank (carrier mail)', aliases: ['sb'],
    domains: ['i.softbank.jp', 'softbank.ne.jp'], mxSuffixes: ['.softbank.jp', '.softbank.ne.jp'],
    profile: 'softbank', ruleFamily: null, rampStart: 20,
    notes: ['users allow-list sender domains on the phone: many 5xx may be that, not reputation'],
    guesses: [LIMITS_GUESS, 'MX suffixes', 'the whole simulator profile: SoftBank publishes no limits'],
    sources: ['deliverability.md (warmup reference)'],
  },
  {
    id: 'rakuten', label: 'Rakuten Mobile (carrier mail)', aliases: ['rakuten-mobile', 'rakumail'],
    domains: ['rakumail.jp'], mxSuffixes: [],
    profile: 'rakuten', ruleFamily: null, rampStart: 20,
    notes: ['a young carrier with few mailboxes: small volumes'],
    guesses: [LIMITS_GUESS, 'the whole simulator profile', 'no MX suffix known'],
    sources: ['deliverability.md (warmup reference)'],
  },
].map((p) => Object.freeze(p)));

/**
 * The catalogue entry a plan provider name refers to, by id or alias.
 *
 * @example
 * catalogueEntry('hotmail')?.id // 'outlook'
 */
export function catalogueEntry(name: string): CatalogueProvider | null {
  const n = name.toLowerCase();
  return CATALOGUE.find((p) => p.id === n) ?? CATALOGUE.find((p) => p.aliases.includes(n)) ?? null;
}

/**
 * The catalogue entry a recipient domain or MX host belongs to, or null.
 *
 * @example
 * catalogueForDomain('ezweb.ne.jp')?.id // 'au'
 */
export function catalogueForDomain(domain: string): CatalogueProvider | null {
  const d = domain.toLowerCase();
  return CATALOGUE.find((p) => p.domains.includes(d)) ?? CATALOGUE.find((p) => p.mxSuffixes.some((s) => d.endsWith(s))) ?? null;
}
