/**
 * Preflight checks of the sender domain: SPF (evaluated for every IP by
 * mailauth's RFC 7208 implementation over the plan's resolver), the DKIM
 * selector record against the plan's key, DMARC presence, policy and
 * alignment of the envelope and DKIM domains with the From domain.
 */
import { dmarc } from 'mailauth/lib/dmarc/index.js';
import { spf } from 'mailauth/lib/spf/index.js';
import type { Plan } from '../plan/types.js';
import { WarmupError } from '../util/errors.js';
import { aligned, compareDkimKey, dkimRecordValue, domainOf, quoteTxt, spfRecords, suggestSpf } from './auth-records.js';
import { mailauthResolver } from './mailauth-resolver.js';
import { item, type PreflightItem } from './preflight-types.js';
import type { Resolver } from './resolver.js';

/** SPF items: the record, its lookup count, and one per IP. Also says whether every IP passed. */
export async function checkSpf(plan: Plan, resolver: Resolver): Promise<{ items: PreflightItem[]; allPass: boolean }> {
  const domain = domainOf(plan.sender.envelopeFrom);
  const ips = plan.ips.map((i) => i.address);
  const items: PreflightItem[] = [];
  let records: string[] = [];
  try {
    records = spfRecords(await resolver.resolveTxt(domain));
  } catch (err) {
    if (err instanceof WarmupError && err.code === 'DNS_TEMPFAIL') {
      items.push(item('spf.record', domain, 'warn', `SPF lookup failed: ${err.message}`, 'retry; check delivery.dns_servers'));
      return { items, allPass: false };
    }
  }
  if (records.length === 0) {
    items.push(item('spf.record', domain, 'fail', `no SPF record for the envelope domain ${domain}`, `publish ${domain}. IN TXT "${suggestSpf(null, ips)}"`));
    return { items, allPass: false };
  }
  if (records.length > 1) {
    items.push(item('spf.record', domain, 'fail', `${records.length} SPF records (RFC 7208: permerror)`, `merge them into one: ${domain}. IN TXT "${suggestSpf(records[0]!, ips)}"`));
    return { items, allPass: false };
  }
  const record = records[0]!;
  items.push(item('spf.record', domain, 'pass', record));

  const r = mailauthResolver(resolver);
  const results = await Promise.all(plan.ips.map(async (ip) => ({ ip, res: await spf({ sender: plan.sender.envelopeFrom, ip: ip.address, helo: ip.ehlo, mta: 'warmup-preflight', resolver: r } as Parameters<typeof spf>[0]) })));
  const lookups = (results[0]?.res as { lookups?: { count: number; limit: number } } | undefined)?.lookups;
  const tooMany = results.some(({ res }) => /too many dns/i.test(String(res.status.comment ?? '')));
  if (tooMany || (lookups && lookups.count > lookups.limit)) {
    items.push(item('spf.lookups', domain, 'fail', `more than ${lookups?.limit ?? 10} DNS lookups (RFC 7208 4.6.4): receivers answer permerror`, 'replace include:/a/mx terms with ip4:/ip6: ranges (flatten) until at most 10 lookups remain'));
  } else if (lookups) {
    items.push(item('spf.lookups', domain, lookups.count >= 8 ? 'warn' : 'pass', `${lookups.count} of ${lookups.limit} DNS lookups`, lookups.count >= 8 ? 'close to the limit of 10: flatten includes before adding more' : undefined));
  }
  const failing: string[] = [];
  for (const { ip, res } of results) {
    const result = res.status.result;
    if (result === 'pass') {
      items.push(item('spf.ip', ip.address, 'pass', `SPF pass for ${domain}`));
    } else if (result === 'temperror') {
      items.push(item('spf.ip', ip.address, 'warn', `SPF temperror: ${String(res.status.comment ?? '')}`, 'retry; check delivery.dns_servers'));
    } else {
      failing.push(ip.address);
      items.push(item('spf.ip', ip.address, 'fail', `SPF ${result} for ${domain}${res.status.comment ? `: ${String(res.status.comment).replace(/^warmup-preflight: /, '')}` : ''}`));
    }
  }
  if (failing.length) {
    const fix = `publish ${domain}. IN TXT "${suggestSpf(record, failing)}"`;
    for (let i = 0; i < items.length; i++) if (items[i]!.id === 'spf.ip' && items[i]!.status === 'fail') items[i] = { ...items[i]!, fix };
  }
  return { items, allPass: failing.length === 0 && results.every(({ res }) => res.status.result === 'pass') };
}

/** DKIM items: each key's selector record present and carrying the plan's public key (both keys of dual signing). */
export async function checkDkim(plan: Plan, resolver: Resolver): Promise<{ items: PreflightItem[]; ok: boolean }> {
  const dkim = plan.sender.dkim;
  if (!dkim) {
    const d = domainOf(plan.sender.from.address);
    return { ok: false, items: [item('dkim.key', d, 'warn', 'no DKIM key in the plan: Gmail, Yahoo and Microsoft require DKIM for bulk mail', `run \`warmup keygen --out dkim.pem --selector s1 --domain ${d}\` and set sender.dkim`)] };
  }
  const first = await checkDkimKey(dkim.domain, dkim.selector, dkim.privateKeyPem, resolver);
  if (!dkim.ed25519) return first;
  // The RSA signature is the one every receiver checks: only it decides `ok` (DMARC), the Ed25519 one is reported beside it.
  const second = await checkDkimKey(dkim.domain, dkim.ed25519.selector, dkim.ed25519.privateKeyPem, resolver);
  return { ok: first.ok, items: [...first.items, ...second.items] };
}

async function checkDkimKey(domain: string, selector: string, pem: string | null, resolver: Resolver): Promise<{ items: PreflightItem[]; ok: boolean }> {
  const name = `${selector}._domainkey.${domain}`;
  if (pem === null) return { ok: false, items: [item('dkim.key', name, 'warn', 'the DKIM key was not loaded', 'run warmup check with the key in place')] };
  const fix = `publish ${name}. IN TXT ${quoteTxt(dkimRecordValue(pem))}`;
  let record: string | undefined;
  try {
    record = (await resolver.resolveTxt(name)).map((r) => r.join('')).find((r) => /(^|;)\s*p=/.test(r) || /v=DKIM1/i.test(r));
  } catch (err) {
    if (err instanceof WarmupError && err.code === 'DNS_TEMPFAIL') return { ok: false, items: [item('dkim.record', name, 'warn', `DKIM lookup failed: ${err.message}`, 'retry; check delivery.dns_servers')] };
  }
  if (!record) return { ok: false, items: [item('dkim.record', name, 'fail', 'no DKIM record at the selector', fix)] };
  const match = compareDkimKey(record, pem);
  const items = [item('dkim.record', name, 'pass', 'DKIM record present')];
  if (match === 'match') items.push(item('dkim.key', name, 'pass', "published key matches the plan's private key"));
  else items.push(item('dkim.key', name, 'fail', match === 'revoked' ? 'the published key is revoked (empty p=)' : match === 'malformed' ? 'the record has no usable p= tag' : "the published key is not the plan's key: every signature would fail", fix));
  return { ok: match === 'match', items };
}

/** DMARC items: record and policy, and alignment of SPF's and DKIM's domains with From. */
export async function checkDmarc(plan: Plan, resolver: Resolver, auth: { spfPass: boolean; dkimOk: boolean }): Promise<PreflightItem[]> {
  const from = domainOf(plan.sender.from.address);
  const envelope = domainOf(plan.sender.envelopeFrom);
  const dkimDomain = plan.sender.dkim?.domain.toLowerCase() ?? null;
  const res = await dmarc({ headerFrom: plan.sender.from.address, spfDomains: [{ domain: envelope }], dkimDomains: dkimDomain ? [{ domain: dkimDomain }] : [], resolver: mailauthResolver(resolver) } as unknown as Parameters<typeof dmarc>[0]);
  const publish = `publish _dmarc.${from}. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@${from}"`;
  if (!res || res.status.result === 'none') return [item('dmarc.record', from, 'fail', `no DMARC record for ${from} (nor its organizational domain)`, publish)];
  if (res.status.result === 'temperror') return [item('dmarc.record', from, 'warn', 'DMARC lookup failed', 'retry; check delivery.dns_servers')];
  const policy = res.policy || res.p;
  const items: PreflightItem[] = [];
  if (!['none', 'quarantine', 'reject'].includes(String(policy))) {
    items.push(item('dmarc.record', from, 'fail', `DMARC record without a valid policy: ${res.rr ?? ''}`, publish));
  } else {
    const pct = res.pct !== undefined && Number(res.pct) < 100 ? `, pct=${res.pct}` : '';
    items.push(item('dmarc.record', from, 'pass', `p=${policy}${pct}${policy === 'none' ? ' (monitoring only; enough for the bulk-sender rules)' : ''}: ${res.rr ?? ''}`.trim()));
  }
  const strictSpf = Boolean(res.alignment?.spf?.strict);
  const strictDkim = Boolean(res.alignment?.dkim?.strict);
  const spfAligned = aligned(from, envelope, strictSpf);
  const dkimAligned = dkimDomain !== null && aligned(from, dkimDomain, strictDkim);
  const spfOk = spfAligned && auth.spfPass;
  const dkimOk = dkimAligned && auth.dkimOk;
  const describe = `SPF ${envelope} ${spfAligned ? 'aligned' : 'not aligned'}${strictSpf ? ' (aspf=s)' : ''}, DKIM ${dkimDomain ?? '(none)'} ${dkimAligned ? 'aligned' : 'not aligned'}${strictDkim ? ' (adkim=s)' : ''} with From ${from}`;
  if (spfOk && dkimOk) items.push(item('dmarc.alignment', from, 'pass', describe));
  else if (spfOk || dkimOk) items.push(item('dmarc.alignment', from, 'warn', `${describe}: DMARC passes on ${spfOk ? 'SPF' : 'DKIM'} alone`, spfOk ? `sign with d=${from} (sender.dkim.domain)` : `use an envelope sender at ${from} (sender.envelope_from)`));
  // Even under p=none: Gmail and Yahoo require bulk mail to pass DMARC, i.e. one aligned pass.
  else items.push(item('dmarc.alignment', from, 'fail', `${describe}: DMARC would fail (p=${policy})`, `sign with d=${from} and make sure SPF and DKIM pass`));
  return items;
}
