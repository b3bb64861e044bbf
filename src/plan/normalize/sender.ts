/** Plan normalization: the sender (addresses, DKIM keys, unsubscribe) and the message content. */
import { createPrivateKey } from 'node:crypto';
import { DEFAULT_CONTENT } from '../defaults.js';
import { isHostname, isMailbox } from '../ip.js';
import type { Plan } from '../types.js';
import type { KeyPath } from '../yaml-locate.js';
import { TEMPLATE_VARIABLES, unknownTemplateVariables } from '../../send/message.js';
import type { NormalizeContext } from './context.js';

export function normalizeSender(ctx: NormalizeContext): Plan['sender'] {
  const { w, err, warn, opts, secrets, secretPath, readText } = ctx;
  const s = w.sender;
  if (!isMailbox(s.from.address)) err(['sender', 'from', 'address'], `"${s.from.address}" is not an email address`);
  if (s.envelope_from !== undefined && !isMailbox(s.envelope_from)) err(['sender', 'envelope_from'], `"${s.envelope_from}" is not an email address`);
  if (s.reply_to !== undefined && !isMailbox(s.reply_to)) err(['sender', 'reply_to'], `"${s.reply_to}" is not an email address`);
  let dkim: Plan['sender']['dkim'] = null;
  if (s.dkim) {
    const dp = ['sender', 'dkim'] as const;
    if (!isHostname(s.dkim.domain)) err([...dp, 'domain'], `"${s.dkim.domain}" is not a domain name`);
    /**
     * One key of the plan: undefined when it is missing or broken (reported), its PEM when loaded,
     * null when secrets are not loaded (commands that never sign; a fresh checkout has none).
     */
    const dkimKey = (path: KeyPath, k: { selector: string; private_key_file?: string | undefined; private_key_env?: string | undefined }, type: 'rsa or ed25519' | 'ed25519'): string | null | undefined => {
      if ((k.private_key_file === undefined) === (k.private_key_env === undefined)) {
        err(path, 'give private_key_file or private_key_env (keys are never inline)');
        return undefined;
      }
      const keygen = `\`warmup keygen --out $FILE --selector ${k.selector} --domain ${s.dkim!.domain}${type === 'ed25519' ? ' --type ed25519' : ''}\` creates one`;
      if (secrets !== 'load') {
        if (k.private_key_file !== undefined) secretPath([...path, 'private_key_file'], k.private_key_file, 'the DKIM private key', keygen);
        else if (secrets === 'check' && opts.env[k.private_key_env!] === undefined) {
          warn([...path, 'private_key_env'], `warmup start will need environment variable ${k.private_key_env} (the DKIM private key, PEM)`);
        }
        return null;
      }
      let pem: string | null = null;
      const keyPath: KeyPath = [...path, k.private_key_file !== undefined ? 'private_key_file' : 'private_key_env'];
      if (k.private_key_file !== undefined) pem = readText(keyPath, k.private_key_file);
      else {
        pem = opts.env[k.private_key_env!] ?? null;
        if (pem === null) err(keyPath, `environment variable ${k.private_key_env} is not set`);
      }
      if (pem === null) return undefined;
      let keyType: string | undefined;
      try {
        keyType = createPrivateKey(pem).asymmetricKeyType;
      } catch {
        err(keyPath, 'is not a PEM private key');
        return undefined;
      }
      if (type === 'ed25519' ? keyType !== 'ed25519' : keyType !== 'rsa' && keyType !== 'ed25519') {
        err(keyPath, `is a ${keyType} key; expected ${type === 'ed25519' ? 'an Ed25519 key' : 'an RSA or Ed25519 key'}`);
        return undefined;
      }
      return pem;
    };
    const pem = dkimKey(dp, s.dkim, 'rsa or ed25519');
    let ed25519: { selector: string; privateKeyPem: string | null } | null = null;
    if (s.dkim.ed25519) {
      const ep = [...dp, 'ed25519'] as const;
      if (s.dkim.ed25519.selector === s.dkim.selector) err([...ep, 'selector'], 'needs a selector of its own: each key is published at its own selector');
      const edPem = dkimKey(ep, s.dkim.ed25519, 'ed25519');
      if (edPem !== undefined) ed25519 = Object.freeze({ selector: s.dkim.ed25519.selector, privateKeyPem: edPem });
    }
    if (pem !== undefined && (ed25519 !== null || !s.dkim.ed25519)) {
      dkim = Object.freeze({ domain: s.dkim.domain.toLowerCase(), selector: s.dkim.selector, privateKeyPem: pem, ...(ed25519 ? { ed25519 } : {}) });
    }
    const fromDomain = s.from.address.split('@')[1]?.toLowerCase() ?? '';
    if (isHostname(s.dkim.domain) && fromDomain && fromDomain !== s.dkim.domain.toLowerCase() && !fromDomain.endsWith(`.${s.dkim.domain.toLowerCase()}`)) {
      err([...dp, 'domain'], `${s.dkim.domain} is not aligned with the From domain ${fromDomain}: DMARC needs the DKIM domain to be the From domain or its parent`);
    }
  }
  let unsubUrl: URL | null = null;
  try { unsubUrl = new URL(s.unsubscribe.url.replaceAll(/\{\{\w+\}\}/g, 'x')); } catch { /* reported below */ }
  if (!unsubUrl || unsubUrl.protocol !== 'https:') err(['sender', 'unsubscribe', 'url'], `must be an https URL (RFC 8058 one-click), got "${s.unsubscribe.url}"`);
  if (s.unsubscribe.mailto !== undefined && !isMailbox(s.unsubscribe.mailto)) err(['sender', 'unsubscribe', 'mailto'], `"${s.unsubscribe.mailto}" is not an email address`);
  return Object.freeze({
    from: Object.freeze({ address: s.from.address, name: s.from.name ?? null }),
    envelopeFrom: s.envelope_from ?? s.from.address,
    replyTo: s.reply_to ?? null,
    dkim,
    unsubscribe: Object.freeze({ url: s.unsubscribe.url, mailto: s.unsubscribe.mailto ?? null }),
  });
}

export function normalizeContent(ctx: NormalizeContext): Plan['content'] {
  const { w, err, readText } = ctx;
  const s = w.sender;
  const c = w.content ?? {};
  const pick = (inline: string | undefined, file: string | undefined, key: string, fallback: string): string => {
    if (inline !== undefined && file !== undefined) { err(['content', `${key}_file`], `give ${key} or ${key}_file, not both`); return fallback; }
    if (file !== undefined) return readText(['content', `${key}_file`], file) ?? fallback;
    return inline ?? fallback;
  };
  // Templates may only use the variables the message builder fills in.
  const checkTemplate = (path: KeyPath, text: string): void => {
    const unknown = unknownTemplateVariables(text);
    if (unknown.length) err(path, `unknown template variable${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `{{${u}}}`).join(', ')} (known: ${TEMPLATE_VARIABLES.map((v) => `{{${v}}}`).join(', ')})`);
  };
  (c.subjects ?? []).forEach((t, i) => checkTemplate(['content', 'subjects', i], t));
  if (c.text !== undefined) checkTemplate(['content', 'text'], c.text);
  if (c.html !== undefined) checkTemplate(['content', 'html'], c.html);
  checkTemplate(['sender', 'unsubscribe', 'url'], s.unsubscribe.url);
  return Object.freeze({
    subjects: Object.freeze([...(c.subjects ?? DEFAULT_CONTENT.subjects)]),
    text: pick(c.text, c.text_file, 'text', DEFAULT_CONTENT.text),
    html: pick(c.html, c.html_file, 'html', DEFAULT_CONTENT.html),
  });
}
