/** `warmup plan PLAN --fit`: the feasibility table and the advice, or its JSON. */
import type { Plan } from '../../plan/types.js';
import type { LaneFit, PlanFit } from '../../policy/fit.js';
import { fitPlan } from '../../policy/fit.js';
import { num, table } from '../format.js';
import type { CliIo } from '../io.js';
import { modelsOrExit } from '../models.js';

/** The JSON of --fit: `ready`, `earliest_start` and one object per lane. */
export function fitJson(f: PlanFit) {
  return {
    plan: f.plan, start: f.start, launch: f.launch, window_hours: f.windowHours, ready: f.ready, earliest_start: f.earliestStart,
    lanes: f.lanes.map((l) => ({
      ip: l.ip, provider: l.provider, ready: l.ready, launch_target: l.launchTarget, reachable: l.reachable,
      launch_stage: l.launchStage, setbacks: l.setbacks, slack_days: l.slackDays, mailboxes: l.mailboxes,
      earliest_start: l.earliestStart, carry: l.carry, advice: l.advice,
    })),
    mailboxes: f.mailboxes,
    advice: f.advice,
  };
}

/** Lanes that read the same (same provider and figures) share one row: 30 identical IPs are one line. */
function rows(lanes: readonly LaneFit[]): string[][] {
  const groups = new Map<string, LaneFit[]>();
  for (const l of lanes) {
    const key = JSON.stringify([l.provider, l.ready, l.launchTarget, l.reachable, l.setbacks, l.slackDays, l.earliestStart, l.carry]);
    groups.set(key, [...(groups.get(key) ?? []), l]);
  }
  return [...groups.values()].map((g) => {
    const l = g[0]!;
    return [
      g.length === 1 ? l.ip : `${l.ip} +${g.length - 1}`, l.provider, num(l.launchTarget), num(l.reachable),
      String(l.setbacks), l.slackDays === null ? '-' : String(l.slackDays), `${num(l.mailboxes.have)}/${num(l.mailboxes.needed)}`,
      l.ready ? (l.slackDays === 0 ? 'ready, no slack' : 'ready') : 'NOT READY', l.ready ? '' : l.advice.join('; '),
    ];
  });
}

export function runFit(plan: Plan, json: boolean, io: CliIo, modelFile?: string): number {
  const f = fitPlan(plan, modelsOrExit(plan, modelFile, io, 'plan'));
  if (json) { io.out(JSON.stringify(fitJson(f), null, 2)); return 0; }
  const readyCount = f.lanes.filter((l) => l.ready).length;
  io.out(`Fit of plan "${plan.name}" for launch ${f.launch} (${num(f.windowHours)}-hour window, provider limits of ${modelFile === undefined ? 'the default model' : modelFile}): ` +
    `${f.ready ? 'READY' : 'NOT READY'}, ${readyCount} of ${f.lanes.length} lanes ready\n`);
  io.out(table(['ip', 'provider', 'launch target', 'reaches', 'setbacks', 'slack', 'mailboxes', 'verdict', 'what to change'], rows(f.lanes), 2));
  io.out('\nreaches: what the ramp carries on launch day if the provider answers as modelled; setbacks: projected holds or back-offs;');
  io.out('slack: hold days a lane can absorb and still be ready; mailboxes: seeds + opt-in / needed at the launch-day hourly volume.');
  if (f.earliestStart) {
    const d = Math.round((Date.parse(f.start) - Date.parse(f.earliestStart)) / 86_400_000);
    io.out(`\nearliest start: ${f.earliestStart} (start on or before it; the plan starts ${f.start}${d > 0 ? `: ${d} day${d === 1 ? '' : 's'} too late` : d < 0 ? `: ${-d} day${d === -1 ? '' : 's'} to spare` : ''})`);
  } else {
    io.out('\nearliest start: none within 180 days: starting earlier does not help a lane whose ramp grows faster than its provider allows, or whose launch volume is more than the provider takes from one IP (see what to change)');
  }
  if (f.advice.length) {
    io.out(f.ready ? '\nNote:' : '\nTo make it ready:');
    for (const a of f.advice) io.out(`  - ${a}`);
  }
  return 0;
}
