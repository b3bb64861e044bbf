import { describe, expect, it } from 'vitest';
import { diskFiles, formatIssue, loadPlan } from '../../src/plan/load.js';
import { fixtureDir, mutate, testKeyPem, validText } from './helpers.js';

const file = `${fixtureDir}plan.yaml`;
const load = (text: string, env: Record<string, string> = {}) => loadPlan(text, { file, env });
const errorsOf = (text: string, env: Record<string, string> = {}) => {
  const r = load(text, env);
  if (r.ok) throw new Error('expected errors, plan loaded');
  return r.errors.map((e) => formatIssue(file, e));
};

describe('loadPlan on a valid plan', () => {
  it('expands ranges, reads seed files and fills defaults', () => {
    const r = load(validText);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const { plan } = r;
    expect(plan.ips.map((i) => [i.address, i.ehlo])).toEqual([
      ['127.0.0.2', 'mta2.example.com'],
      ['127.0.0.10', 'mta10.example.com'],
      ['127.0.0.11', 'mta11.example.com'],
      ['127.0.0.12', 'mta12.example.com'],
    ]);
    expect(plan.providers.find((p) => p.name === 'yahoo')!.seeds.map((s) => s.address)).toEqual(['x@yahoo.com', 'y@yahoo.com']);
    expect(plan.providers.find((p) => p.name === 'gmail')!.ramp).toMatchObject({ kind: 'daily', daily: [5, 10, 20] });
    expect(plan.window).toEqual({ start: 540, end: 1080 });
    expect(plan.delivery.port).toBe(25);
    expect(plan.policy.thresholds.advanceAt).toBe(0.9);
    expect(plan.dnsbl.zones).toContain('zen.spamhaus.org');
    expect(plan.sender.envelopeFrom).toBe('hello@news.example.com');
    expect(Object.isFrozen(plan)).toBe(true);
  });

  it('expands a CIDR block like a FIRST-LAST range', () => {
    const r = load(mutate('127.0.0.10-127.0.0.12', '127.0.0.8/30'));
    expect(r.ok && r.plan.ips.map((i) => [i.address, i.ehlo])).toEqual([
      ['127.0.0.2', 'mta2.example.com'], ['127.0.0.8', 'mta8.example.com'], ['127.0.0.9', 'mta9.example.com'],
      ['127.0.0.10', 'mta10.example.com'], ['127.0.0.11', 'mta11.example.com'],
    ]);
  });

  it('reads a DKIM key named by a file with ${VAR} expanded, or by an environment variable', () => {
    const pem = testKeyPem();
    const viaEnv = load(mutate('  unsubscribe:', '  dkim: { domain: news.example.com, selector: s1, private_key_env: DKIM_PEM }\n  unsubscribe:'), { DKIM_PEM: pem });
    expect(viaEnv.ok && viaEnv.plan.sender.dkim?.selector).toBe('s1');
    const viaFile = loadPlan(mutate('  unsubscribe:', '  dkim: { domain: news.example.com, selector: s1, private_key_file: "${CREDS}/k.pem" }\n  unsubscribe:'), {
      file, env: { CREDS: '/creds' }, files: { read: (p) => (p === '/creds/k.pem' ? pem : diskFiles.read(p)) },
    });
    expect(viaFile.ok).toBe(true);
  });

  it('reads a second, Ed25519 key for dual signing and refuses an RSA key or a shared selector there', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = testKeyPem();
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const dual = (selector: string) => mutate('  unsubscribe:', `  dkim:\n    domain: news.example.com\n    selector: s1\n    private_key_env: DKIM_PEM\n    ed25519: { selector: ${selector}, private_key_env: DKIM_ED }\n  unsubscribe:`);
    const r = load(dual('e1'), { DKIM_PEM: rsa, DKIM_ED: ed });
    expect(r.ok && r.plan.sender.dkim).toMatchObject({ selector: 's1', privateKeyPem: rsa, ed25519: { selector: 'e1', privateKeyPem: ed } });
    expect(errorsOf(dual('e1'), { DKIM_PEM: rsa, DKIM_ED: rsa })).toEqual([expect.stringMatching(/sender\.dkim\.ed25519\.private_key_env: is a rsa key; expected an Ed25519 key$/)]);
    expect(errorsOf(dual('s1'), { DKIM_PEM: rsa, DKIM_ED: ed })).toEqual([expect.stringMatching(/sender\.dkim\.ed25519\.selector: needs a selector of its own/)]);
  });

  it('derives the growth of a reach curve so launch day gets the reach volume', () => {
    const r = load(mutate('default: { start: 10, growth: 1.5, cap: 40 }', 'default: { start: 10, reach: 1000 }'));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const ramp = r.plan.providers.find((p) => p.name === 'yahoo')!.ramp;
    expect(ramp.kind === 'curve' && ramp.cap).toBe(1000);
    // 2026-12-01..07 without Sunday the 6th: 6 sending days, launch is stage 7.
    expect(ramp.kind === 'curve' && Math.round(10 * ramp.growth ** 6)).toBe(1000);
  });
});

describe('loadPlan reports every error at its key with line:column', () => {
  const cases: Array<[string, string, string]> = [
    ['YAML syntax', mutate('name: fixture', 'name: [fixture'), 'plan.yaml:2:1 YAML: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ['duplicate key', mutate('name: fixture', 'name: fixture\nname: again'), 'plan.yaml:2:1 YAML: Map keys must be unique'],
    ['unknown key with a hint', mutate('timezone: Europe/Paris', 'timezone: Europe/Paris\ntimzone: UTC'), 'plan.yaml:3:1 timzone: unknown key "timzone" (did you mean "timezone"?)'],
    ['nested unknown key', mutate('    seeds_file: seeds.txt', '    seeds_file: seeds.txt\n    seed_file: x.txt'), 'plan.yaml:26:5 providers.yahoo.seed_file: unknown key "seed_file" (did you mean "seeds_file"?)'],
    ['wrong type', mutate('cap: 40', 'cap: lots'), 'plan.yaml:16:43 ramps.default.cap: must be a number (got "lots")'],
    ['missing required key', mutate('launch: 2026-12-08\n', ''), 'plan.yaml:1:1 launch: is required'],
    ['growth not above 1', mutate('growth: 1.5', 'growth: 0.8'), 'plan.yaml:16:33 ramps.default.growth: must be greater than 1 (got 0.8)'],
    ['bad IP', mutate('address: 127.0.0.2', 'address: 127.0.0.300'), 'plan.yaml:11:14 ips[0].address: "127.0.0.300" is not an IP address'],
    ['duplicate IP across a range', mutate('address: 127.0.0.2', 'address: 127.0.0.11'), 'plan.yaml:13:12 ips[1].range: 127.0.0.11 is listed twice: also in ips[0]'],
    ['backwards range', mutate('127.0.0.10-127.0.0.12', '127.0.0.12-127.0.0.10'), 'plan.yaml:13:12 ips[1].range: range ends (127.0.0.10) before it starts (127.0.0.12)'],
    ['CIDR block with host bits', mutate('127.0.0.10-127.0.0.12', '127.0.0.9/30'), 'plan.yaml:13:12 ips[1].range: 127.0.0.9 is not the first address of a /30 block (did you mean 127.0.0.8/30?)'],
    ['domain in two providers', mutate('domains: [yahoo.com]', 'domains: [yahoo.com, gmail.com]'), 'plan.yaml:24:26 providers.yahoo.domains[1]: gmail.com is already in provider gmail: a domain belongs to one provider'],
    ['unknown time zone', mutate('Europe/Paris', 'Europe/Pariss'), 'plan.yaml:2:11 timezone: unknown time zone "Europe/Pariss" (use an IANA name such as Europe/Paris)'],
    ['window end before start', mutate('end: "18:00"', 'end: "08:00"'), 'plan.yaml:5:32 window.end: must be after window.start (09:00), got 08:00'],
    ['launch before start', mutate('launch: 2026-12-08', 'launch: 2026-11-20'), 'plan.yaml:4:9 launch: must be after start (2026-12-01), got 2026-11-20'],
    ['impossible date', mutate('start: 2026-12-01', 'start: 2026-02-30'), 'plan.yaml:3:8 start: 2026-02-30 is not a calendar day'],
    ['decreasing explicit ramp', mutate('daily: [5, 10, 20]', 'daily: [5, 10, 8]'), 'plan.yaml:17:26 ramps.flat.daily[2]: must not decrease: day 3 (8) is less than day 2 (10)'],
    ['DKIM key file missing', mutate('  unsubscribe:', '  dkim: { domain: news.example.com, selector: s1, private_key_file: nokey.pem }\n  unsubscribe:'), `plan.yaml:9:69 sender.dkim.private_key_file: file not found: ${fixtureDir}nokey.pem`],
    ['DKIM file not a key', mutate('  unsubscribe:', '  dkim: { domain: news.example.com, selector: s1, private_key_file: seeds.txt }\n  unsubscribe:'), 'plan.yaml:9:69 sender.dkim.private_key_file: is not a PEM private key'],
    ['seed not an address', mutate('b@gmail.com', 'not-an-address'), 'plan.yaml:21:26 providers.gmail.seeds[1]: "not-an-address" is not an email address'],
    ['seed file missing', mutate('seeds_file: seeds.txt', 'seeds_file: missing.txt'), `plan.yaml:25:17 providers.yahoo.seeds_file: file not found: ${fixtureDir}missing.txt`],
    ['provider without recipients', mutate('    seeds: [a@gmail.com, b@gmail.com]\n', ''), 'plan.yaml:19:3 providers.gmail: has no recipients: add seeds, seeds_file or recipients_files'],
    ['unknown ramp name', mutate('ramp: flat', 'ramp: flatt'), 'plan.yaml:22:11 providers.gmail.ramp: no ramp named "flatt" (ramps: default, flat)'],
    ['unsubscribe not https', mutate('https://news.example.com', 'http://news.example.com'), 'plan.yaml:9:23 sender.unsubscribe.url: must be an https URL (RFC 8058 one-click)'],
    ['enum value', mutate('skip_days: [sun]', 'skip_days: [sunday]'), 'plan.yaml:6:13 skip_days[0]: must be one of mon, tue, wed, thu, fri, sat, sun (got "sunday")'],
  ];
  it.each(cases)('%s', (_name, text, expected) => {
    const errors = errorsOf(text);
    expect(errors.some((e) => e.startsWith(expected)), `got:\n${errors.join('\n')}`).toBe(true);
  });

  it('lists every error, not just the first', () => {
    const text = mutate('growth: 1.5', 'growth: 0.8').replace('Europe/Paris', 'Mars/Olympus').replace('b@gmail.com', 'nope');
    expect(errorsOf(text)).toHaveLength(3);
  });
});

describe('loadPlan warnings', () => {
  const warningsOf = (text: string) => {
    const r = load(text);
    expect(r.ok).toBe(true);
    return r.warnings.map((w) => formatIssue(file, w));
  };
  it('warns when a seed mailbox would be flooded at peak', () => {
    expect(warningsOf(`${validText}warnings: { mailbox_per_day: 50 }\n`)).toEqual(expect.arrayContaining([expect.stringMatching(/^plan\.yaml:23:3 warning: providers\.yahoo: each of its 2 mailboxes would receive about 80 messages on the peak day \(more than 50\)/)]));
  });
  it('warns about growth faster than 2x a day', () => {
    expect(warningsOf(mutate('growth: 1.5', 'growth: 2.5'))).toEqual(expect.arrayContaining([expect.stringMatching(/^plan\.yaml:16:33 warning: ramps\.default\.growth: 2\.5 is faster than 2x a day/)]));
  });
  it('warns when the ramp ends after launch', () => {
    expect(warningsOf(mutate('cap: 40', 'cap: 400'))).toEqual(expect.arrayContaining([expect.stringMatching(/ramps\.default\.cap: reaches its cap \(400\) on ramp day 7, but launch day is ramp day 7|ramp's end falls after launch/)]));
  });
  it('warns about snowshoeing: little volume over many IPs', () => {
    expect(warningsOf(validText)).toEqual(expect.arrayContaining([expect.stringMatching(/^plan\.yaml:10:1 warning: ips: the peak day .* looks like snowshoeing/)]));
  });
});

describe('content templates', () => {
  it('refuses a template variable the message builder does not know', () => {
    const text = `${validText}content:\n  subjects: ["Hello {{first_name}}"]\n`;
    const r = loadPlan(text, { file: `${fixtureDir}plan.yaml` });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(formatIssue(file, r.errors[0]!)).toMatch(/^plan\.yaml:27:14 content\.subjects\[0\]: unknown template variable \{\{first_name\}\} \(known: \{\{recipient\}\}/);
  });
});

describe('a YAML alias bomb', () => {
  const bomb = `name: bomb
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
`;
  it('is an error with file:line:col where the aliases start nesting, not a crash', () => {
    expect(errorsOf(bomb)).toEqual([expect.stringMatching(/^plan\.yaml:4:8 YAML: Excessive alias count .*\(aliases expand too much\)$/)]);
  });

  it('makes `warmup validate` exit 2, like every other bad plan', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { memoryIo } = await import('../../src/cli/io.js');
    const { main } = await import('../../src/cli/main.js');
    const path = `${mkdtempSync(`${tmpdir()}/warmup-bomb-`)}/bomb.yaml`;
    writeFileSync(path, bomb);
    const io = memoryIo({}, process.cwd());
    expect(await main(['validate', path], io)).toBe(2);
    expect(io.stderr).toMatch(/bomb\.yaml:4:8 YAML: Excessive alias count/);
  });
});
