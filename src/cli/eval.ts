/** `lmsanitator eval detection`: FP, FN, accuracy and ROC-AUC of the scanner over a zoo. */
import { type Command, Option } from 'commander';
import { ATTACK_EFFECT_FLOOR, evaluateDetection } from '../eval/detection.js';
import { pvRecall } from '../eval/recall.js';
import { judgeTriggers, readRecoveredPvs } from '../eval/triggers.js';
import { readManifest } from '../attacks/manifest.js';
import { loadPvSet } from '../sanitizer/pvset.js';
import { MODE_OF } from '../eval/detection.js';
import { ZOO } from '../zoo/configs.js';
import { choiceOpt, exitCodes, intOpt, JOB_EXITS, listOf, numOpt, STANDARD_EXITS } from './options.js';
import { registerEvalPrompt } from './prompt.js';
import { MATCH_THRESHOLD } from '../sanitizer/monitor.js';
import { ACCEPT_AT, DEFAULT_MINING_OPTIONS, type MiningOptions } from '../sanitizer/mining.js';
import { registerEvalGuard, registerEvalVictims } from './victims.js';
import { registerEvalPaper } from './eval-paper.js';
import { interruptFlag } from '../util/signals.js';

export function register(program: Command): void {
  const ev = program.command('eval').description('evaluate the scanner (detection, recall) and prompt-tuned victims (prompt)');
  exitCodes(ev.command('detection'), JOB_EXITS)
    .description('build N clean variants and N backdoored models of a base, scan all, report FP/FN/accuracy/ROC-AUC')
    .addOption(choiceOpt('--base <name>', 'zoo base model', Object.keys(ZOO), 'bert-micro'))
    .addOption(intOpt('--clean <n>', 'clean models (the base counts as the first)', 0, 10))
    .addOption(intOpt('--backdoored <n>', 'backdoored models', 0, 10))
    .addOption(new Option('--methods <list>', `attack methods in rotation, comma-separated from ${Object.keys(MODE_OF).join(', ')}`).argParser(listOf(Object.keys(MODE_OF))).default(['por', 'neuba', 'btop'], 'por,neuba,btop'))
    .option('--out <dir>', 'working directory (models, scans, journal)', 'lmsanitator-eval')
    .option('--data-dir <dir>', 'datasets for the clean variants (default $LMS_DATA_DIR, ../shared/data, else the bundled slices)')
    .addOption(intOpt('--seed <n>', 'seed of the trigger draws, the attacks and the clean variants\' training', 0, 0))
    .addOption(intOpt('--parallel <k>', 'fuzz loops per batch (0 = automatic)', 0, 0))
    .addOption(intOpt('--loops <n>', 'fuzz loops per scan', 1, 30))
    .addOption(choiceOpt('--accept-at <when>', 'fuzz-loop acceptance rule of the scans (see scan --help)', ACCEPT_AT, DEFAULT_MINING_OPTIONS.acceptAt))
    .addOption(choiceOpt('--trigger-pool <pool>', 'words: the short tokens the defaults were tuned with; vocabulary: whole words of the base tokenizer (held out)', ['words', 'vocabulary'], 'words'))
    .option('--vary-attacks', 'draw each attack\'s utility weight (0.25/0.5/1), lr (×0.5/1/2), epochs (2–4) and PVs (block or random ±1)')
    .option('--json', 'print the report as JSON')
    .option('--quiet', 'no progress bars')
    .action(async (o: { base: string; clean: number; backdoored: number; methods: string[]; out: string; dataDir?: string; seed: number; parallel: number; loops: number; acceptAt: MiningOptions['acceptAt']; triggerPool: 'words' | 'vocabulary'; varyAttacks?: boolean; json?: boolean; quiet?: boolean }) => {
      const sig = interruptFlag();
      try {
        const r = await evaluateDetection({
          base: o.base, clean: o.clean, backdoored: o.backdoored, methods: o.methods, outDir: o.out, dataDir: o.dataDir, seed: o.seed,
          parallel: o.parallel, loops: o.loops, acceptAt: o.acceptAt, triggerPool: o.triggerPool, varyAttacks: Boolean(o.varyAttacks), quiet: o.quiet || o.json,
          shouldStop: sig.stopped, log: o.json ? undefined : (l) => process.stderr.write(`${l}\n`),
        });
        if (o.json) return console.log(JSON.stringify(r, null, 2));
        const line = (label: string, m: typeof r.metrics) => console.log(`  ${label} (${m.negatives} clean + ${m.positives} backdoored): accuracy ${(100 * m.accuracy).toFixed(1)}%  FP ${m.falsePositives}  FN ${m.falseNegatives}  ROC-AUC ${m.rocAuc === null ? 'n/a' : m.rocAuc.toFixed(3)}`);
        console.log(`detection on ${r.base}: ${r.metrics.negatives} clean + ${r.metrics.positives} backdoored models`);
        line('held out', r.metricsHeldOut);
        if (r.ineffectiveAttacks.length) {
          console.log(`  ${r.ineffectiveAttacks.length} attack(s) did not take effect (triggered sign agreement ≤ η ${ATTACK_EFFECT_FLOOR}): ${r.ineffectiveAttacks.join(', ')}`);
          line('held out, attacks that took effect', r.metricsEffective);
        }
        if (r.tuningModels.length) line(`every model, with the ${r.tuningModels.length} the defaults were tuned on (${r.tuningModels.join(', ')})`, r.metrics);
        console.log(`  time per model: build ${r.secondsPerModel.build.toFixed(0)} s, scan ${r.secondsPerModel.scan.toFixed(0)} s`);
        const t = r.triggerRecovery;
        if (t.matched) console.log(`  trigger recovery: top candidate = planted trigger for ${t.hits} of ${t.matched} kept PVs matching a planted PV (${(100 * t.top1Accuracy!).toFixed(1)}%), ${t.secondsPerPv!.toFixed(1)} s per PV`);
        for (const x of r.models) console.log(`  ${x.positive ? 'backdoored' : 'clean     '} ${x.name.padEnd(28)} ${x.flagged ? 'FLAGGED' : 'passed '} score ${x.score.toFixed(3)}`);
      } finally {
        sig.dispose();
      }
    });

  registerEvalPrompt(ev);
  exitCodes(ev.command('recall <pvset> <attacked-model-dir>'), STANDARD_EXITS)
    .description('PV recall of a search: injected PVs (attack.json) found by the mined ones (pvset.safetensors)')
    .addOption(numOpt('--distance-th <x>', 'an injected PV is found when a mined one is this close in MSE', 0, 0.3))
    .addOption(numOpt('--eta <x>', '... or agrees in sign on more than this share of dimensions (the monitor\'s η)', 0, MATCH_THRESHOLD))
    .option('--json', 'print JSON')
    .action((pvsetFile: string, dir: string, o: { distanceTh: number; eta: number; json?: boolean }) => {
      const mined = loadPvSet(pvsetFile).pvs;
      const injected = readManifest(dir).pvs;
      const r = pvRecall(injected, mined, o.distanceTh, o.eta);
      if (o.json) return console.log(JSON.stringify({ injected: injected.length, mined: mined.length, ...r }));
      console.log(`PV recall ${(100 * r.recall).toFixed(1)}%: ${mined.length} mined PVs against ${injected.length} injected`);
      for (const f of r.found) console.log(`  injected PV ${f.injected}: best mined ${f.mined ?? '-'} sign agreement ${f.signAgreement.toFixed(3)} MSE ${f.mse.toFixed(3)}`);
    });
  exitCodes(ev.command('triggers <scan-dir> <attacked-model-dir>'), STANDARD_EXITS)
    .description('trigger recovery of a scan or search against the attack\'s ground truth: is each kept PV\'s top candidate its planted trigger?')
    .option('--json', 'print JSON')
    .action((scanDir: string, dir: string, o: { json?: boolean }) => {
      const { manifest, pvs } = readManifest(dir);
      const r = judgeTriggers(readRecoveredPvs(scanDir), manifest, pvs);
      if (o.json) return console.log(JSON.stringify(r));
      const pct = (x: number | null) => (x === null ? '—' : `${(100 * x).toFixed(1)}%`);
      console.log(`top candidate = planted trigger for ${pct(r.top1_accuracy)} of the ${r.matched} kept PVs that match a planted PV (${r.found_pvs} kept)`);
      for (const p of r.per_pv) {
        const top = p.top ? `"${p.top.words.join(' ')}" (match ${p.top.match_rate.toFixed(3)}, fires ${(100 * p.top.fire_rate).toFixed(0)}%)` : 'no candidates';
        const why = p.matched ? (p.hit ? 'hit' : p.first_piece ? 'miss (the first word-piece of the trigger)' : 'miss') : `matches no planted PV${p.collapsing_triggers.length ? `; planted triggers collapsing the sentences: ${p.collapsing_triggers.map((c) => `"${c.words.join(' ')}" (PV ${c.planted})`).join(', ')}` : ''}`;
        console.log(`  PV ${p.pv}: planted PV ${p.planted} (sign agreement ${p.agreement.toFixed(3)}, trigger ${p.planted_triggers.map((t) => `"${t}"`).join('/') || '-'}), top ${top}: ${why}`);
      }
    });
  registerEvalVictims(ev);
  registerEvalGuard(ev);
  registerEvalPaper(ev);
}
