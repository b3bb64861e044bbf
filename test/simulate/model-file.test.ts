import { describe, expect, it } from 'vitest';
import { formatIssue } from '../../src/plan/load.js';
import { defaultModels, loadModel } from '../../src/simulate/model-file.js';
import { PROFILES } from '../../src/simulate/profiles.js';
import { simPlan } from './helpers.js';

const plan = simPlan();

describe('model files', () => {
  it('without a model file each provider gets its built-in profile', () => {
    const m = defaultModels(plan);
    expect([...m].map(([p, x]) => [p, x.profile])).toEqual([['gmail', 'gmail'], ['yahoo', 'yahoo'], ['outlook', 'microsoft']]);
  });

  it('lays default, profile and provider knobs over the built-in profile, in that order', () => {
    const r = loadModel(`default:
  random_deferral: 0
  cooldown: 45m
providers:
  microsoft:
    hourly_limit: { start: 3 }
  gmail:
    hourly_limit: { start: 5, max: 300 }
    greylist: { share: 0.5, delay: 10m }
    replies:
      rate: "421 4.7.28 slow down"
`, plan);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const gmail = r.models.get('gmail')!;
    expect(gmail.hourlyLimit).toEqual({ start: 5, max: 300 });
    expect(gmail.greylist).toEqual({ share: 0.5, delayMs: 600_000 });
    expect(gmail.cooldownMs).toBe(45 * 60_000);
    expect(gmail.randomDeferral).toBe(0);
    expect(gmail.replies.rate).toBe('421 4.7.28 slow down');
    expect(gmail.replies.mailbox).toBe(PROFILES.gmail!.replies.mailbox);
    expect(r.models.get('outlook')!.hourlyLimit).toEqual({ start: 3, max: PROFILES.microsoft!.hourlyLimit.max });
    expect(r.models.get('yahoo')!.hourlyLimit).toEqual(PROFILES.yahoo!.hourlyLimit);
  });

  it.each([
    ['a YAML syntax error', 'providers:\n  gmail: { hourly_limit: [\n', [/^model\.yaml:3:1 YAML: Flow sequence/, /^model\.yaml:3:1 YAML: Flow map/]],
    ['a wrong type and an out-of-range share', 'providers:\n  gmail:\n    mailbox_per_hour: lots\n    greylist: { share: 2 }\n', [
      /^model\.yaml:3:23 providers\.gmail\.mailbox_per_hour: must be a number \(got "lots"\)$/,
      /^model\.yaml:4:24 providers\.gmail\.greylist\.share: must be at most 1 \(got 2\)$/,
    ]],
    ['a misspelt knob', 'default:\n  random_deferal: 0.1\n', [/^model\.yaml:2:3 default\.random_deferal: unknown key "random_deferal" \(did you mean "random_deferral"\?\)$/]],
    ['a provider the plan does not have', 'providers:\n  hotmail:\n    cooldown: 5m\n', [/^model\.yaml:2:3 providers\.hotmail: is neither a provider of plan "sim-test"/]],
    ['a limit whose max is under its start', 'providers:\n  yahoo:\n    hourly_limit: { start: 50, max: 10 }\n', [/^model\.yaml:3:37 providers\.yahoo\.hourly_limit\.max: max \(10\) must be at least start \(50\)$/]],
    ['a deferral reply that is not a 4xx', 'providers:\n  gmail:\n    replies:\n      rate: "250 ok"\n', [/^model\.yaml:4:13 providers\.gmail\.replies\.rate: must be an SMTP reply starting with a 4xx code/]],
    ['an unknown profile', 'providers:\n  gmail:\n    profile: aol\n', [/^model\.yaml:3:14 providers\.gmail\.profile: unknown profile "aol"/]],
  ])('reports %s with line:column', (_name, text, expected) => {
    const r = loadModel(text, plan);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const lines = r.errors.map((e) => formatIssue('model.yaml', e));
    expect(lines).toHaveLength(expected.length);
    for (const [i, re] of expected.entries()) expect(lines[i]).toMatch(re);
  });
});
