/**
 * `lmsanitator finetune <model-dir> --task sst2|ag-news|sms-spam|mlm --out <dir>`:
 * a clean variant of a model, by full fine-tuning with a fresh
 * classification head or by continued MLM pretraining (--task mlm --corpus …).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadModel } from '../models/model.js';
import { resolveDataDir } from '../text/data-dir.js';
import {
  CLASSIFICATION_TASKS, CONTINUED_MLM_DEFAULTS, continueMlm, defaultLr, FINETUNE_DEFAULTS, finetuneTask, isClassificationTask,
  MLM_CORPORA, mlmCorpus,
} from '../train/finetune.js';
import { interruptFlag, intOption, numOption } from './signals.js';

interface Opts {
  task: string;
  out: string;
  seed: string;
  epochs?: string;
  maxSteps?: string;
  steps?: string;
  lr?: string;
  batch?: string;
  maxLen?: string;
  maxTrain?: string;
  maxDev?: string;
  corpus: string;
  dataDir?: string;
  force?: boolean;
  quiet?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('finetune <model-dir>')
    .description('make a clean variant: fine-tune the whole model with a fresh classification head, or continue MLM pretraining (--task mlm)')
    .requiredOption('--task <task>', `${CLASSIFICATION_TASKS.join(' | ')} | mlm`)
    .requiredOption('--out <dir>', 'output model directory')
    .option('--seed <n>', 'seed (head init, data order, dropout, training subset)', '1')
    .option('--epochs <n>', `epochs over the training set (default ${FINETUNE_DEFAULTS.epochs})`)
    .option('--max-steps <n>', 'stop after this many steps')
    .option('--steps <n>', `MLM steps (--task mlm; default ${CONTINUED_MLM_DEFAULTS.steps})`)
    .option('--lr <x>', 'peak learning rate (default by model width: 1e-3 for hidden ≤ 64, 1e-4 for ≤ 256, else 5e-5; mlm 5e-4 / 1e-4 / 5e-5)')
    .option('--batch <n>', `batch size (default ${FINETUNE_DEFAULTS.batchSize})`)
    .option('--max-len <n>', `tokens per example (default ${FINETUNE_DEFAULTS.maxLen})`)
    .option('--max-train <n>', 'use at most N training examples (sentences for mlm), drawn by the seed')
    .option('--max-dev <n>', 'evaluate on at most N dev examples (fixed draw)')
    .option('--corpus <name>', `text for --task mlm: ${MLM_CORPORA.join(' | ')}`, 'wikitext')
    .option('--data-dir <dir>', 'datasets directory (default $LMS_DATA_DIR or ../shared/data)')
    .option('--force', 'overwrite a finished output directory')
    .option('--quiet', 'no progress output')
    .option('--json', 'print finetune.json to stdout')
    .action((modelDir: string, o: Opts) => {
      const seed = intOption('--seed', o.seed, 0);
      const lr = o.lr === undefined ? undefined : numOption('--lr', o.lr, 0);
      const batch = o.batch === undefined ? undefined : intOption('--batch', o.batch);
      const maxLen = o.maxLen === undefined ? undefined : intOption('--max-len', o.maxLen, 3);
      const maxTrain = o.maxTrain === undefined ? undefined : intOption('--max-train', o.maxTrain);
      const mlm = o.task === 'mlm';
      if (!mlm && !isClassificationTask(o.task)) throw new Error(`--task must be one of ${CLASSIFICATION_TASKS.join(', ')}, mlm; got "${o.task}"`);
      if (mlm && !(MLM_CORPORA as readonly string[]).includes(o.corpus)) throw new Error(`--corpus must be one of ${MLM_CORPORA.join(', ')}; got "${o.corpus}"`);
      if (existsSync(join(o.out, 'finetune.json')) && !o.force) throw new Error(`${o.out} already holds a finished variant; pass --force to overwrite`);
      // Checked before loading anything, so a missing directory fails at once.
      if (!mlm || o.corpus === 'wikitext') resolveDataDir(o.dataDir);
      const base = loadModel(modelDir);
      const sig = interruptFlag();
      try {
        let r;
        if (mlm) {
          const data = mlmCorpus(o.corpus, { dataDir: o.dataDir, seed, maxTrain: maxTrain ?? 20000, heldout: 500 });
          r = continueMlm(base, data, o.corpus, o.out, {
            ...CONTINUED_MLM_DEFAULTS, lr: defaultLr(base.config.hiddenSize, 'mlm'), seed, quiet: o.quiet, shouldStop: sig.stopped,
            ...(o.steps !== undefined && { steps: intOption('--steps', o.steps) }),
            ...(lr !== undefined && { lr }), ...(batch !== undefined && { batchSize: batch }), ...(maxLen !== undefined && { maxLen }),
          });
        } else {
          r = finetuneTask(base, o.task, o.out, {
            ...FINETUNE_DEFAULTS, lr: defaultLr(base.config.hiddenSize, 'finetune'), seed, quiet: o.quiet, shouldStop: sig.stopped, dataDir: o.dataDir, maxTrain,
            maxDev: o.maxDev === undefined ? undefined : intOption('--max-dev', o.maxDev),
            ...(o.epochs !== undefined && { epochs: intOption('--epochs', o.epochs) }),
            ...(o.maxSteps !== undefined && { maxSteps: intOption('--max-steps', o.maxSteps) }),
            ...(lr !== undefined && { lr }), ...(batch !== undefined && { batchSize: batch }), ...(maxLen !== undefined && { maxLen }),
          });
        }
        if (r.interrupted) {
          process.stderr.write(mlm ? `interrupted; run the same command again to resume (${o.out})\n` : 'interrupted; nothing saved\n');
          process.exitCode = 130;
          return;
        }
        if (o.json) return console.log(JSON.stringify(r.record));
        const rec = r.record as Record<string, number>;
        if (mlm) {
          console.log(`continued MLM on ${o.corpus}: ${rec.steps} steps in ${rec.seconds.toFixed(1)} s; held-out MLM accuracy ${(100 * rec.heldout_mlm_accuracy).toFixed(1)}% (unigram ${(100 * rec.unigram_baseline_accuracy).toFixed(1)}%) → ${o.out}`);
        } else {
          console.log(`fine-tuned on ${o.task}: ${rec.steps} steps in ${rec.seconds.toFixed(1)} s; dev accuracy ${(100 * rec.dev_accuracy).toFixed(1)}% on ${rec.dev_examples} (majority ${(100 * rec.dev_majority_accuracy).toFixed(1)}%) → ${o.out}`);
        }
      } finally {
        sig.dispose();
      }
    });
}
