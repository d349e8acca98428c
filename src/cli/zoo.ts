/** `lmsanitator zoo build <name>` and `zoo list`: the project's own pretrained models. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { TrainingRecord } from '../train/pretrain.js';
import { ZOO } from '../zoo/configs.js';
import { buildCleanSet } from '../zoo/clean-set.js';
import { buildZooModel, zooHome } from '../zoo/zoo.js';
import { exitCodes, intOpt, JOB_EXITS, STANDARD_EXITS } from './options.js';
import { interruptFlag } from '../util/signals.js';

export function register(program: Command): void {
  const zoo = program.command('zoo').description(`pretrain and cache small models (cache: $LMS_HOME, default ${zooHome()})`);
  exitCodes(zoo.command('list'), STANDARD_EXITS)
    .description('list the named configurations and whether they are built')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => {
      const rows = Object.values(ZOO).map((e) => {
        const dir = join(zooHome(), e.name);
        const built = existsSync(join(dir, 'training.json'));
        const t = built ? JSON.parse(readFileSync(join(dir, 'training.json'), 'utf8')) : null;
        return { name: e.name, description: e.description, built, dir, heldout_mlm_accuracy: t?.heldout_mlm_accuracy ?? null, unigram_baseline_accuracy: t?.unigram_baseline_accuracy ?? null };
      });
      if (o.json) return console.log(JSON.stringify(rows, null, 2));
      for (const r of rows) {
        const acc = r.built ? `MLM acc ${(100 * r.heldout_mlm_accuracy).toFixed(1)}% (unigram ${(100 * r.unigram_baseline_accuracy).toFixed(1)}%)` : 'not built';
        console.log(`${r.name.padEnd(14)} ${acc.padEnd(36)} ${r.description}`);
      }
    });
  exitCodes(zoo.command('build <name>'), JOB_EXITS)
    .description('pretrain a named model into the cache (resumes an interrupted build); names: ' + Object.keys(ZOO).join(', ')
      + ', clean-set (clean variants of --base: fine-tunes and continued MLM)')
    .option('--base <name>', 'clean-set: the zoo model to derive variants from')
    .addOption(intOpt('--count <n>', 'clean-set: number of variants', 1))
    .option('--out <dir>', 'clean-set: output directory (default $LMS_HOME/clean-set-<base>)')
    .option('--data-dir <dir>', 'clean-set: datasets directory (default $LMS_DATA_DIR, ../shared/data, else the bundled slices)')
    .option('--force', 'rebuild even when cached')
    .addOption(intOpt('--steps <n>', 'override the number of training steps', 1))
    .addOption(intOpt('--seed <n>', 'override the seed', 0))
    .option('--quiet', 'no progress output')
    .option('--json', 'print the result as JSON')
    .action((name: string, o: BuildCliOptions) => {
      if (name === 'clean-set') return buildCleanSetCommand(o);
      if (!(name in ZOO)) throw new Error(`unknown zoo model "${name}"; known: ${Object.keys(ZOO).join(', ')}, clean-set`);
      if (o.base || o.count || o.out || o.dataDir) throw new Error('--base, --count, --out and --data-dir apply to clean-set only');
      const sig = interruptFlag();
      try {
        const r = buildZooModel(name, {
          force: o.force, quiet: o.quiet, shouldStop: sig.stopped,
          steps: o.steps, seed: o.seed,
        });
        if (r.interrupted) {
          process.stderr.write(`interrupted; run the same command again to resume (${r.dir})\n`);
          process.exitCode = 130;
          return;
        }
        const training = JSON.parse(readFileSync(join(r.dir, 'training.json'), 'utf8'));
        if (o.json) return console.log(JSON.stringify({ dir: r.dir, built: r.built, training }));
        console.log(`${name}: ${r.built ? 'built' : 'cached'} at ${r.dir}`);
        console.log(`  ${trainingSummary(training)}`);
      } finally {
        sig.dispose();
      }
    });
}

interface BuildCliOptions {
  force?: boolean;
  steps?: number;
  seed?: number;
  quiet?: boolean;
  json?: boolean;
  base?: string;
  count?: number;
  out?: string;
  dataDir?: string;
}

function buildCleanSetCommand(o: BuildCliOptions): void {
  if (!o.base || !o.count) throw new Error('clean-set needs --base <name> and --count <n>');
  if (!(o.base in ZOO)) throw new Error(`unknown --base "${o.base}"; known: ${Object.keys(ZOO).join(', ')}`);
  if (o.steps || o.force) throw new Error('--steps and --force do not apply to clean-set (finished variants are kept; delete a variant directory to rebuild it)');
  const sig = interruptFlag();
  try {
    const r = buildCleanSet({
      base: o.base, count: o.count, out: o.out, dataDir: o.dataDir, quiet: o.quiet, shouldStop: sig.stopped, firstSeed: o.seed,
      onVariant: (v, built) => {
        if (o.json) return;
        const metric = `${v.metric_name} ${(100 * v.metric).toFixed(1)}%`;
        process.stderr.write(`${built ? 'built ' : 'cached'} ${v.name.padEnd(30)} ${metric.padEnd(28)} ${v.steps} steps, ${v.seconds.toFixed(1)} s\n`);
      },
    });
    if (r.interrupted) {
      process.stderr.write(`interrupted; run the same command again to resume (${r.dir})\n`);
      process.exitCode = 130;
      return;
    }
    if (o.json) return console.log(JSON.stringify({ dir: r.dir, built: r.built, skipped: r.skipped, manifest: r.manifest }));
    console.log(`clean-set of ${o.base}: ${r.built.length} built, ${r.skipped.length} cached; manifest at ${join(r.dir, 'manifest.json')}`);
  } finally {
    sig.dispose();
  }
}

/** One line for a finished pretraining run (zoo build, pretrain). */
export function trainingSummary(t: TrainingRecord): string {
  return `held-out MLM accuracy ${(100 * t.heldout_mlm_accuracy).toFixed(1)}% (unigram baseline ${(100 * t.unigram_baseline_accuracy).toFixed(1)}%), ${t.steps} steps in ${t.seconds.toFixed(0)} s`;
}
