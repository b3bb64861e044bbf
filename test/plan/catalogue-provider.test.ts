import { describe, expect, it } from 'vitest';
import { formatIssue, loadPlan } from '../../src/plan/load.js';
import { fixtureDir, mutate } from './helpers.js';

const file = `${fixtureDir}plan.yaml`;
const load = (text: string) => loadPlan(text, { file, env: {} });
const providersOf = (text: string) => {
  const r = load(text);
  if (!r.ok) throw new Error(r.errors.map((e) => formatIssue(file, e)).join('\n'));
  return Object.fromEntries(r.plan.providers.map((p) => [p.name, p]));
};
const errorsOf = (text: string) => {
  const r = load(text);
  if (r.ok) throw new Error('expected errors, plan loaded');
  return r.errors.map((e) => formatIssue(file, e));
};
const GMAIL = '  gmail:\n    domains: [gmail.com]\n';

describe('plan providers from the catalogue', () => {
  it('a provider named after a catalogue entry needs only its seeds', () => {
    const p = providersOf(mutate(GMAIL, '  gmail:\n'));
    expect(p.gmail).toMatchObject({ catalogue: 'gmail', domains: ['gmail.com', 'googlemail.com'], mxSuffixes: ['.google.com', '.googlemail.com'] });
    expect(p.yahoo).toMatchObject({ catalogue: 'yahoo', domains: ['yahoo.com'], mxSuffixes: ['.yahoodns.net'] });
  });

  it('written domains replace the catalogue\'s; an alias or `catalogue:` names the entry', () => {
    const p = providersOf(mutate(GMAIL, '  hotmail:\n    domains: [hotmail.fr]\n    seeds: [a@hotmail.fr]\n  carrier:\n    catalogue: au\n    seeds: [a@ezweb.ne.jp]\n  gmail:\n'));
    expect(p.hotmail).toMatchObject({ catalogue: 'outlook', domains: ['hotmail.fr'], mxSuffixes: ['.outlook.com', '.protection.outlook.com'] });
    expect(p.carrier).toMatchObject({ catalogue: 'au', domains: ['ezweb.ne.jp', 'au.com', 'biz.ezweb.ne.jp'] });
  });

  it('a domain another provider lists explicitly is carved out of the catalogue\'s list', () => {
    const p = providersOf(mutate(GMAIL, '  mail-google:\n    domains: [googlemail.com]\n    seeds: [a@googlemail.com]\n  gmail:\n'));
    expect(p.gmail!.domains).toEqual(['gmail.com']);
    expect(p['mail-google']).toMatchObject({ catalogue: null, domains: ['googlemail.com'] });
  });

  it.each([
    ['a provider outside the catalogue without domains', mutate(GMAIL, '  mybox:\n'), /plan\.yaml:\d+:\d+ providers\.mybox: needs domains: "mybox" is not a provider of the built-in catalogue \(known: gmail, yahoo/],
    ['an unknown catalogue name', mutate(GMAIL, '  gmail:\n    catalogue: gmial\n'), /providers\.gmail\.catalogue: no provider "gmial" in the catalogue/],
  ] as const)('refuses %s', (_what, text, message) => {
    expect(errorsOf(text)).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });
});
