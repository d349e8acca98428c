/** `lmsanitator eval detection`: FP, FN, accuracy and ROC-AUC of the scanner over a zoo. */
import type { Command } from 'commander';
import { evaluateDetection } from '../eval/detection.js';
import { pvRecall } from '../eval/recall.js';
import { readManifest } from '../attacks/manifest.js';
import { loadPvSet } from '../sanitizer/pvset.js';
import { interruptFlag, intOption, numOption } from './signals.js';

export function register(program: Command): void {
  const ev = program.command('eval').description('evaluate the scanner');
  ev.command('detection')
    .description('build N clean variants and N backdoored models of a base, scan all, report FP/FN/accuracy/ROC-AUC')
    .option('--base <name>', 'zoo base model', 'bert-micro')
    .option('--clean <n>', 'clean models (the base counts as the first)', '10')
    .option('--backdoored <n>', 'backdoored models', '10')
    .option('--methods <list>', 'attack methods in rotation', 'por,neuba,btop')
    .option('--out <dir>', 'working directory (models, scans, journal)', 'lmsanitator-eval')
    .option('--seed <n>', 'seed of the trigger draws, the attacks and the clean variants\' training', '0')
    .option('--parallel <k>', 'fuzz loops per batch (0 = automatic)', '0')
    .option('--loops <n>', 'fuzz loops per scan', '30')
    .option('--json', 'print the report as JSON')
    .option('--quiet', 'no progress bars')
    .action(async (o: { base: string; clean: string; backdoored: string; methods: string; out: string; seed: string; parallel: string; loops: string; json?: boolean; quiet?: boolean }) => {
      const sig = interruptFlag();
      try {
        const r = await evaluateDetection({
          base: o.base, clean: intOption('--clean', o.clean, 0), backdoored: intOption('--backdoored', o.backdoored, 0),
          methods: o.methods.split(',').map((m) => m.trim()).filter(Boolean), outDir: o.out, seed: intOption('--seed', o.seed, 0),
          parallel: intOption('--parallel', o.parallel, 0), loops: intOption('--loops', o.loops), quiet: o.quiet || o.json,
          shouldStop: sig.stopped, log: o.json ? undefined : (l) => process.stderr.write(`${l}\n`),
        });
        if (o.json) return console.log(JSON.stringify(r, null, 2));
        const m = r.metrics;
        console.log(`detection on ${r.base}: ${m.negatives} clean + ${m.positives} backdoored models`);
        console.log(`  accuracy ${(100 * m.accuracy).toFixed(1)}%  FP ${m.falsePositives}  FN ${m.falseNegatives}  ROC-AUC ${m.rocAuc === null ? 'n/a' : m.rocAuc.toFixed(3)}`);
        console.log(`  time per model: build ${r.secondsPerModel.build.toFixed(0)} s, scan ${r.secondsPerModel.scan.toFixed(0)} s`);
        for (const x of r.models) console.log(`  ${x.positive ? 'backdoored' : 'clean     '} ${x.name.padEnd(28)} ${x.flagged ? 'FLAGGED' : 'passed '} score ${x.score.toFixed(3)}`);
      } finally {
        sig.dispose();
      }
    });

  ev.command('recall <pvset> <attacked-model-dir>')
    .description('PV recall of a search: injected PVs (attack.json) found by the mined ones (pvset.safetensors)')
    .option('--distance-th <x>', 'an injected PV is found when a mined one is this close in MSE', '0.3')
    .option('--eta <x>', '... or agrees in sign on more than this share of dimensions', '0.8')
    .option('--json', 'print JSON')
    .action((pvsetFile: string, dir: string, o: { distanceTh: string; eta: string; json?: boolean }) => {
      const mined = loadPvSet(pvsetFile).pvs;
      const injected = readManifest(dir).pvs;
      const r = pvRecall(injected, mined, numOption('--distance-th', o.distanceTh, 0), numOption('--eta', o.eta, 0));
      if (o.json) return console.log(JSON.stringify({ injected: injected.length, mined: mined.length, ...r }));
      console.log(`PV recall ${(100 * r.recall).toFixed(1)}%: ${mined.length} mined PVs against ${injected.length} injected`);
      for (const f of r.found) console.log(`  injected PV ${f.injected}: best mined ${f.mined ?? '-'} sign agreement ${f.signAgreement.toFixed(3)} MSE ${f.mse.toFixed(3)}`);
    });
}
