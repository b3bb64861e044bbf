/**
 * A plan provider's catalogue defaults: a provider named after a catalogue
 * entry (or pointing at one with `catalogue:`) needs only its seeds; written
 * `domains` and `mx_suffixes` replace the catalogue's. Catalogue domains
 * that another provider of the plan lists explicitly go to that provider, so
 * a plan can carve a domain out (`aol: { domains: [aol.com] }` beside `yahoo`). Pure.
 */
import { CATALOGUE, catalogueEntry, type CatalogueProvider } from '../catalogue/providers.js';
import type { WrittenPlan } from './schema.js';
import type { KeyPath } from './yaml-locate.js';

export interface ProviderIdentity {
  readonly entry: CatalogueProvider | null;
  /** Lower case; null when neither the plan nor the catalogue gives any (an error was reported). */
  readonly domains: readonly string[] | null;
  /** As written (normalized later), or the catalogue's. */
  readonly mxSuffixes: readonly string[];
}

/** Resolves `providers.NAME` against the catalogue; reports an unknown `catalogue:` or a provider without domains. */
export function providerIdentity(w: WrittenPlan, name: string, err: (path: KeyPath, message: string) => void): ProviderIdentity {
  const p = w.providers[name]!;
  const path = ['providers', name] as const;
  const entry = p.catalogue !== undefined ? catalogueEntry(p.catalogue) : catalogueEntry(name);
  const known = CATALOGUE.map((c) => c.id).join(', ');
  if (p.catalogue !== undefined && !entry) err([...path, 'catalogue'], `no provider "${p.catalogue}" in the catalogue (known: ${known}; see warmup providers)`);
  if (p.domains) return { entry, domains: p.domains.map((d) => d.toLowerCase()), mxSuffixes: p.mx_suffixes ?? entry?.mxSuffixes ?? [] };
  if (!entry) {
    if (p.catalogue === undefined) err(path, `needs domains: "${name}" is not a provider of the built-in catalogue (known: ${known}; or set catalogue: to one of them)`);
    return { entry, domains: null, mxSuffixes: p.mx_suffixes ?? [] };
  }
  const claimed = new Set(Object.entries(w.providers).filter(([n]) => n !== name).flatMap(([, o]) => (o.domains ?? []).map((d) => d.toLowerCase())));
  return { entry, domains: entry.domains.filter((d) => !claimed.has(d)), mxSuffixes: p.mx_suffixes ?? entry.mxSuffixes };
}
