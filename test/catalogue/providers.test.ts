import { describe, expect, it } from 'vitest';
import { CATALOGUE, catalogueEntry, catalogueForDomain } from '../../src/catalogue/providers.js';
import { BUILTIN_RULE_SPECS } from '../../src/policy/builtin-rules.js';
import { PROFILES } from '../../src/simulate/profiles.js';

describe('the provider catalogue', () => {
  it('has the providers a launch meets', () => {
    expect(CATALOGUE.map((p) => p.id)).toEqual(['gmail', 'yahoo', 'outlook', 'icloud', 'gmx', 'orange', 'yahoo-japan', 'docomo', 'au', 'softbank', 'rakuten']);
  });

  // The recipient domains of deliverability.md, provider by provider.
  it.each([
    ['gmail', ['gmail.com', 'googlemail.com']],
    ['yahoo', ['yahoo.com', 'yahoo.co.uk', 'yahoo.fr', 'ymail.com', 'rocketmail.com', 'aol.com']],
    ['outlook', ['outlook.com', 'hotmail.com', 'live.com', 'msn.com', 'hotmail.co.uk', 'outlook.jp']],
    ['icloud', ['icloud.com', 'me.com', 'mac.com']],
    ['gmx', ['gmx.de', 'gmx.net', 'gmx.com', 'web.de']],
    ['orange', ['orange.fr', 'wanadoo.fr']],
    ['yahoo-japan', ['yahoo.co.jp', 'ymail.ne.jp']],
    ['docomo', ['docomo.ne.jp']],
    ['au', ['ezweb.ne.jp', 'au.com', 'biz.ezweb.ne.jp']],
    ['softbank', ['i.softbank.jp', 'softbank.ne.jp']],
    ['rakuten', ['rakumail.jp']],
  ] as const)('%s has the domains %j', (id, domains) => {
    expect(catalogueEntry(id)?.domains).toEqual(expect.arrayContaining([...domains]));
  });

  it('gives each domain to one provider only', () => {
    const all = CATALOGUE.flatMap((p) => p.domains);
    expect(new Set(all).size).toBe(all.length);
  });

  it.each(CATALOGUE.map((p) => [p.id, p] as const))('%s has a simulator profile, a known rule family and marks its guesses', (_id, p) => {
    expect(PROFILES[p.profile]?.profile).toBe(p.profile);
    if (p.ruleFamily !== null) expect(BUILTIN_RULE_SPECS.some((r) => r.family === p.ruleFamily)).toBe(true);
    expect(p.guesses.length).toBeGreaterThan(0);
    expect(p.sources.length).toBeGreaterThan(0);
    for (const s of p.mxSuffixes) expect(s).toMatch(/^\.[a-z0-9.-]+$/);
  });

  it.each([
    ['hotmail', 'outlook'], ['Microsoft', 'outlook'], ['aol', 'yahoo'], ['apple', 'icloud'], ['kddi', 'au'], ['webde', 'gmx'], ['gmail', 'gmail'], ['mailbox', null],
  ] as const)('the name %s is the catalogue entry %s', (name, id) => {
    expect(catalogueEntry(name)?.id ?? null).toBe(id);
  });

  it.each([
    ['ezweb.ne.jp', 'au'], ['YAHOO.CO.JP', 'yahoo-japan'], ['yahoo.co.uk', 'yahoo'], ['alt1.gmail-smtp-in.l.google.com', 'gmail'],
    ['mta7.am0.yahoodns.net', 'yahoo'], ['example-com.mail.protection.outlook.com', 'outlook'], ['example.com', null],
  ] as const)('the domain or MX host %s belongs to %s', (domain, id) => {
    expect(catalogueForDomain(domain)?.id ?? null).toBe(id);
  });
});
