import { CATALOGUE, catalogueEntry, type CatalogueProvider } from '../../catalogue/providers.js';
import { BUILTIN_RULE_SPECS } from '../../policy/builtin-rules.js';
import { PROFILES } from '../../simulate/profiles.js';
import { ExitError } from '../../util/errors.js';
import { parse } from '../args.js';
import { num, table } from '../format.js';
import type { CliIo } from '../io.js';

export const usage = `Usage: warmup providers [NAME] [--json]

Lists the built-in provider catalogue: the providers a launch meets, their
recipient domains and MX suffixes, the simulator profile, the built-in reply
rules that apply, and the limits warmup plans with (per IP per hour at full
reputation, per mailbox per hour: guesses, as no provider publishes them).
A plan names one and gives only its seeds:

  providers:
    gmail: { seeds_file: seeds/gmail.txt }

With NAME (an id or alias such as hotmail): that provider's notes, guesses and sources.`;

/** One catalogue entry with its profile's limits and its rules, as printed and as --json. */
export function describeProvider(p: CatalogueProvider) {
  const m = PROFILES[p.profile]!;
  return {
    id: p.id, label: p.label, aliases: p.aliases, domains: p.domains, mx_suffixes: p.mxSuffixes, profile: p.profile,
    rules: BUILTIN_RULE_SPECS.filter((r) => r.family === p.ruleFamily).map((r) => r.name),
    ramp_start: p.rampStart,
    limits: {
      ip_per_hour_new: m.hourlyLimit.start,
      ip_per_hour_max: m.hourlyLimit.max,
      reputation_volume: m.reputation.volume,
      mailbox_per_hour: m.mailboxPerHour,
      guess: true,
    },
    notes: p.notes, guesses: p.guesses, sources: p.sources,
  };
}

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' } }, usage, io);
  if (values.help) { io.out(usage); return 0; }
  if (positionals.length > 1) { io.err(`warmup providers: at most one provider name\n\n${usage}`); throw new ExitError(2); }
  const name = positionals[0];
  const entries = name === undefined ? CATALOGUE : [catalogueEntry(name)].filter((e): e is CatalogueProvider => e !== null);
  if (entries.length === 0) {
    io.err(`warmup providers: no provider "${name}" in the catalogue (known: ${CATALOGUE.map((c) => c.id).join(', ')})`);
    throw new ExitError(2);
  }
  const described = entries.map(describeProvider);
  if (values.json) { io.out(JSON.stringify(name === undefined ? { providers: described } : described[0], null, 2)); return 0; }
  if (name === undefined) {
    io.out(table(['provider', 'domains', 'MX suffixes', 'profile', 'per IP/h (new..max)*', 'per mailbox/h*', 'rules'], described.map((d) => [
      d.id, d.domains.length > 4 ? `${d.domains.slice(0, 4).join(' ')} +${d.domains.length - 4}` : d.domains.join(' '), d.mx_suffixes.join(' ') || '-', d.profile,
      `${num(d.limits.ip_per_hour_new)}..${num(d.limits.ip_per_hour_max)}`, num(d.limits.mailbox_per_hour), String(d.rules.length),
    ]), 4));
    io.out('\n* guesses: no provider publishes them; `warmup simulate` models them and `warmup plan --fit` plans with them.');
    io.out('A plan names a provider by id (or alias) and gives its seeds; `warmup providers NAME` shows the details.');
    return 0;
  }
  const d = described[0]!;
  io.out([
    `${d.id}: ${d.label}`,
    `  aliases      ${d.aliases.join(', ') || '-'}`,
    `  domains      ${d.domains.join(', ')}`,
    `  MX suffixes  ${d.mx_suffixes.join(', ') || '- (none known)'}`,
    `  profile      ${d.profile} (warmup simulate)`,
    `  rules        ${d.rules.join(', ') || '- (the circuit breaker and day-end policy only)'}`,
    `  ramp start   ${d.ramp_start} a day per IP (suggested)`,
    `  limits       per IP ${num(d.limits.ip_per_hour_new)}/h when new, up to ${num(d.limits.ip_per_hour_max)}/h at full reputation (after about ${num(d.limits.reputation_volume)} accepted); per mailbox ${num(d.limits.mailbox_per_hour)}/h`,
    ...d.notes.map((n, i) => `  ${i === 0 ? 'notes       ' : '            '} ${n}`),
    ...d.guesses.map((g, i) => `  ${i === 0 ? 'guesses     ' : '            '} ${g}`),
    ...d.sources.map((s, i) => `  ${i === 0 ? 'sources     ' : '            '} ${s}`),
  ].join('\n'));
  return 0;
}
