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
  CLASSIFICATION_TASKS, CONTINUED_MLM_DEFAULTS, continueMlm, defaultLr, FINETUNE_DEFAULTS, finetuneTask,
  MLM_CORPORA, mlmCorpus,
} from '../train/finetune.js';
import { choiceOpt, exitCodes, intOpt, JOB_EXITS, numOpt } from './options.js';
import { interruptFlag } from '../util/signals.js';

interface Opts {
  task: string;
  out: string;
  seed: number;
  epochs?: number;
  maxSteps?: number;
  steps?: number;
  lr?: number;
  batch?: number;
  maxLen?: number;
  maxTrain?: number;
  maxDev?: number;
  corpus: string;
  dataDir?: string;
  force?: boolean;
  quiet?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  exitCodes(program.command('finetune <model-dir>'), JOB_EXITS)
    .description('make a clean variant: fine-tune the whole model with a fresh classification head, or continue MLM pretraining (--task mlm)')
    .addOption(choiceOpt('--task <task>', 'a classification task, or mlm (continued masked-LM pretraining)', [...CLASSIFICATION_TASKS, 'mlm']).makeOptionMandatory())
    .requiredOption('--out <dir>', 'output model directory')
    .addOption(intOpt('--seed <n>', 'seed (head init, data order, dropout, training subset)', 0, 1))
    .addOption(intOpt('--epochs <n>', `epochs over the training set (default ${FINETUNE_DEFAULTS.epochs})`, 1))
    .addOption(intOpt('--max-steps <n>', 'stop after this many steps', 1))
    .addOption(intOpt('--steps <n>', `MLM steps (--task mlm; default ${CONTINUED_MLM_DEFAULTS.steps})`, 1))
    .addOption(numOpt('--lr <x>', 'peak learning rate (default by model width: 1e-3 for hidden ≤ 64, 1e-4 for ≤ 256, else 5e-5; mlm 5e-4 / 1e-4 / 5e-5)', 0, undefined, true))
    .addOption(intOpt('--batch <n>', `batch size (default ${FINETUNE_DEFAULTS.batchSize})`, 1))
    .addOption(intOpt('--max-len <n>', `tokens per example (default ${FINETUNE_DEFAULTS.maxLen})`, 3))
    .addOption(intOpt('--max-train <n>', 'use at most N training examples (sentences for mlm), drawn by the seed', 1))
    .addOption(intOpt('--max-dev <n>', 'evaluate on at most N dev examples (fixed draw)', 1))
    .addOption(choiceOpt('--corpus <name>', 'named text for --task mlm (a dataset, not a file: pretrain --corpus takes a file)', MLM_CORPORA, 'wikitext'))
    .option('--data-dir <dir>', 'datasets directory (default $LMS_DATA_DIR, ../shared/data, else the bundled slices; see lmsanitator data check)')
    .option('--force', 'overwrite a finished output directory')
    .option('--quiet', 'no progress output')
    .option('--json', 'print finetune.json to stdout')
    .action((modelDir: string, o: Opts) => {
      const { seed, lr, batch, maxLen, maxTrain } = o;
      const mlm = o.task === 'mlm';
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
            ...(o.steps !== undefined && { steps: o.steps }),
            ...(lr !== undefined && { lr }), ...(batch !== undefined && { batchSize: batch }), ...(maxLen !== undefined && { maxLen }),
          });
        } else {
          r = finetuneTask(base, o.task, o.out, {
            ...FINETUNE_DEFAULTS, lr: defaultLr(base.config.hiddenSize, 'finetune'), seed, quiet: o.quiet, shouldStop: sig.stopped, dataDir: o.dataDir, maxTrain,
            maxDev: o.maxDev,
            ...(o.epochs !== undefined && { epochs: o.epochs }),
            ...(o.maxSteps !== undefined && { maxSteps: o.maxSteps }),
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
