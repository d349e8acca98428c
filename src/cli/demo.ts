/**
 * `lmsanitator demo`: the README's first command. From a cold cache it
 * pretrains bert-micro, plants a POR backdoor in a copy, scans both and
 * prints the two verdicts side by side. Everything lands under
 * $LMS_HOME (default ~/.cache/lmsanitator/zoo) and the --out directory.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { runAttack } from '../attacks/attack.js';
import { readManifest } from '../attacks/manifest.js';
import { judgeTriggers, type TriggerEvaluation } from '../eval/triggers.js';
import { scan } from '../index.js';
import { buildZooModel, zooHome } from '../zoo/zoo.js';
import { exitCodes, EXIT_ERROR, EXIT_INTERRUPTED, intOpt } from './options.js';
import { interruptFlag } from '../util/signals.js';

class Interrupted extends Error {}

interface DemoSide {
  verdict: 'clean' | 'backdoored';
  score: number;
  seconds: number;
  report: string;
  /** Trigger recovery judged against the planted backdoor (attack.json): the backdoored side only. */
  triggers?: TriggerEvaluation;
}

export function register(program: Command): void {
  exitCodes(program.command('demo'), [
    [0, 'the clean model passed and the backdoored copy was flagged'],
    [1, 'unexpected verdicts'],
    [EXIT_ERROR, 'error (one line on stderr)'],
    [EXIT_INTERRUPTED, 'interrupted; run it again to resume the pretraining'],
  ])
    .description('build bert-micro, make a POR-backdoored copy, scan both and show the verdicts (≈ 5–10 min on 2 cores)')
    .option('--out <dir>', 'where the backdoored model and the scan reports go', 'lmsanitator-demo')
    .addOption(intOpt('--parallel <k>', 'fuzz loops per batch in the scans (0 = automatic)', 0, 0))
    .option('--json', 'print {"clean": {...}, "backdoored": {...}}')
    .option('--quiet', 'no progress output')
    .action(async (o: { out: string; parallel: number; json?: boolean; quiet?: boolean }) => {
      const say = (s: string) => {
        if (!o.quiet && !o.json) process.stderr.write(`${s}\n`);
      };
      const sig = interruptFlag();
      try {
        const t0 = Date.now();
        say(`[1/4] bert-micro: pretraining (cached in ${zooHome()})`);
        const built = buildZooModel('bert-micro', { quiet: o.quiet || o.json, shouldStop: sig.stopped });
        if (built.interrupted) {
          process.stderr.write('interrupted while pretraining; run the demo again to resume\n');
          process.exitCode = EXIT_INTERRUPTED;
          return;
        }
        const cleanDir = built.dir;
        const backdooredDir = join(o.out, 'bert-micro-por');
        say(`[2/4] POR attack on a copy → ${backdooredDir}`);
        if (!existsSync(join(backdooredDir, 'attack.json'))) {
          await runAttack({ modelDir: cleanDir, outDir: backdooredDir, method: 'por', seed: 1 });
        }
        const scanSide = (dir: string, name: string, step: string): DemoSide => {
          say(`${step} scanning the ${name} model`);
          // The demo's own scratch directory: a rerun starts its scans afresh.
          const r = scan(dir, { outDir: join(o.out, `scan-${name}`), parallel: o.parallel, force: true, quiet: o.quiet || o.json, shouldStop: sig.stopped });
          if (r.driver.interrupted) throw new Interrupted();
          const side: DemoSide = { verdict: r.verdict, score: r.driver.score, seconds: r.seconds, report: r.outputs.reportHtml };
          if (name === 'backdoored') {
            const { manifest, pvs } = readManifest(dir);
            side.triggers = judgeTriggers(r.driver.pvs, manifest, pvs);
          }
          return side;
        };
        let backdoored: DemoSide;
        let clean: DemoSide;
        try {
          backdoored = scanSide(backdooredDir, 'backdoored', '[3/4]');
          clean = scanSide(cleanDir, 'clean', '[4/4]');
        } catch (e) {
          if (!(e instanceof Interrupted)) throw e;
          process.stderr.write('interrupted during a scan; run the demo again (the scans start afresh)\n');
          process.exitCode = EXIT_INTERRUPTED;
          return;
        }
        if (o.json) {
          console.log(JSON.stringify({ clean, backdoored }));
        } else {
          const row = (name: string, s: DemoSide) =>
            `${name.padEnd(12)} ${s.verdict.toUpperCase().padEnd(11)} ${s.score.toFixed(3).padStart(7)} ${s.seconds.toFixed(1).padStart(8)} s   ${s.report}`;
          console.log(`${'model'.padEnd(12)} ${'verdict'.padEnd(11)} ${'score'.padStart(7)} ${'time'.padStart(10)}   report`);
          console.log(row('clean', clean));
          console.log(row('backdoored', backdoored));
          for (const line of evidenceLines(backdoored.triggers)) console.log(line);
          console.log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
        }
        const ok = clean.verdict === 'clean' && backdoored.verdict === 'backdoored';
        if (!ok) {
          process.stderr.write('lmsanitator demo: unexpected verdicts (the clean model should pass and the backdoored one be flagged)\n');
          process.exitCode = 1;
        }
      } finally {
        sig.dispose();
      }
    });
}

/** What trigger recovery says about each kept PV, checked against the planted backdoor the demo made. */
function evidenceLines(t: TriggerEvaluation | undefined): string[] {
  if (!t) return [];
  return t.per_pv.map((p) => {
    if (p.matched) {
      return `evidence: PV ${p.pv} is planted PV ${p.planted} (sign agreement ${p.agreement.toFixed(3)}); recovery's top word ${p.top ? `"${p.top.words.join(' ')}"` : '-'} ${p.hit ? 'is' : p.first_piece ? 'is the first word-piece of' : 'is not'} its trigger ${p.planted_triggers.map((x) => `"${x}"`).join('/')}${p.first_piece ? ' (the sweep covers whole words; the tokenizer splits the trigger)' : ''}`;
    }
    const named = p.collapsing_triggers.map((c) => `"${c.words.join(' ')}" (planted PV ${c.planted})`).join(', ');
    return `evidence: PV ${p.pv} is no planted PV (best sign agreement ${p.agreement.toFixed(3)}, with planted PV ${p.planted}): a combination of their block signs that no trigger makes; ${named ? `recovery names the planted triggers ${named}, each collapsing every sentence onto one vector of its own` : 'recovery names no planted trigger'}`;
  });
}
