/**
 * `lmsanitator pretrain --out <dir>`: masked-LM pretraining of a fresh
 * BERT-, RoBERTa-, ELECTRA- or ALBERT-family model from real text, with the
 * standard vocabularies (bert-base-uncased WordPiece, GPT-2 byte-level BPE;
 * see familyTokenizer for ALBERT, DeBERTa and XLNet). ELECTRA is trained
 * with the MLM objective of its generator head, not replaced-token
 * detection; XLNet with MLM through lm_loss, not its permutation LM. The zoo
 * builds its named models through the same function; this command takes
 * any sizes and any corpus file. Interrupted runs resume from the
 * checkpoint in --out when the same command is run again.
 */
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { nlpCorpusSentences, splitTrainHeldout } from '../text/corpus.js';
import { DEFAULT_MAX_SENTENCE_FILE_BYTES, readSentenceFile } from '../text/sentence-file.js';
import { pretrain } from '../train/pretrain.js';
import { familyConfig, familyTokenizer, ZOO, type ZooFamily } from '../zoo/configs.js';
import { choiceOpt, exitCodes, intOpt, JOB_EXITS, numOpt } from './options.js';
import { interruptFlag } from '../util/signals.js';
import { trainingSummary } from './zoo.js';
import { usablePositions } from '../formats/hf-config.js';

interface Opts {
  out: string;
  family: ZooFamily;
  layers: number;
  embeddingSize?: number;
  hidden: number;
  heads: number;
  ff: number;
  maxPositions?: number;
  vocabSize?: number;
  corpus?: string;
  maxCorpusMb: number;
  heldout: number;
  steps: number;
  batch: number;
  maxLen: number;
  lr: number;
  warmup: number;
  seed: number;
  checkpointEvery: number;
  force?: boolean;
  quiet?: boolean;
  json?: boolean;
}

const MINI = ZOO['bert-mini'];

/** What a run writes into --out; --force removes these (and nothing else the user keeps there). */
const OUTPUT_FILES = [
  'config.json', 'model.safetensors', 'training.json', 'checkpoint.safetensors', 'tokenizer.json', 'tokenizer_config.json',
  'special_tokens_map.json', 'vocab.txt', 'vocab.json', 'merges.txt',
];

export function register(program: Command): void {
  exitCodes(program.command('pretrain'), JOB_EXITS)
    .description('pretrain a masked language model from text and write a Hugging Face directory (resumes an interrupted run)')
    .requiredOption('--out <dir>', 'output model directory (also holds the checkpoint while training)')
    .addOption(choiceOpt('--family <family>', 'bert (WordPiece, bert-base-uncased vocabulary), roberta (GPT-2 byte-level BPE), electra or albert (factorised embeddings, WordPiece), deberta (v3 switches, WordPiece) or xlnet (WordPiece; MLM through lm_loss, not permutation LM)', ['bert', 'roberta', 'electra', 'albert', 'deberta', 'xlnet'], 'bert'))
    .addOption(intOpt('--layers <n>', 'transformer layers (albert: applications of its one shared layer)', 1, MINI.layers))
    .addOption(intOpt('--embedding-size <n>', 'electra, albert: width of the embedding tables (default 128; the others use --hidden)', 1))
    .addOption(intOpt('--hidden <n>', 'hidden size', 1, MINI.hidden))
    .addOption(intOpt('--heads <n>', 'attention heads (must divide --hidden)', 1, MINI.heads))
    .addOption(intOpt('--ff <n>', 'feed-forward size', 1, MINI.ff))
    .addOption(intOpt('--max-positions <n>', 'position table size (default 512; 514 for roberta)', 1))
    .addOption(intOpt('--vocab-size <n>', 'embedding rows (default: the tokenizer\'s size; never fewer)', 1))
    .option('--corpus <file>', 'training text, one sentence per line (default: the built-in nlp-corpus)')
    .addOption(numOpt('--max-corpus-mb <n>', 'refuse larger corpus files', 0, DEFAULT_MAX_SENTENCE_FILE_BYTES / 2 ** 20, true))
    .addOption(intOpt('--heldout <n>', 'sentences held out for the final MLM accuracy', 1, 1000))
    .addOption(intOpt('--steps <n>', 'optimisation steps', 1, MINI.train.steps))
    .addOption(intOpt('--batch <n>', 'sentences per batch', 1, MINI.train.batchSize))
    .addOption(intOpt('--max-len <n>', 'tokens per sentence', 3, MINI.train.maxLen))
    .addOption(numOpt('--lr <x>', 'peak learning rate (AdamW, linear warm-up and decay)', 0, MINI.train.lr, true))
    .addOption(numOpt('--warmup <x>', 'warm-up fraction of the steps', 0, MINI.train.warmupFraction))
    .addOption(intOpt('--seed <n>', 'seed of the initialisation, batches, masks and dropout', 0, MINI.train.seed))
    .addOption(intOpt('--checkpoint-every <n>', 'steps between checkpoints', 1, MINI.train.checkpointEvery))
    .option('--force', 'overwrite a finished model in --out')
    .option('--quiet', 'no progress output')
    .option('--json', 'print training.json to stdout')
    .action((o: Opts) => {
      if (!o.force && existsSync(join(o.out, 'training.json'))) throw new Error(`${o.out} already holds a pretrained model; use --force to overwrite it`);
      const family = o.family;
      const maxPositions = o.maxPositions ?? (family === 'roberta' ? 514 : 512);
      const factorised = family === 'electra' || family === 'albert';
      if (o.embeddingSize !== undefined && !factorised) throw new Error(`--embedding-size is for the electra and albert families; ${family} embeds at --hidden`);
      const tok = familyTokenizer(family, maxPositions);
      const vocabSize = o.vocabSize ?? tok.vocabSize;
      if (vocabSize < tok.vocabSize) {
        throw new Error(`--vocab-size ${vocabSize} is smaller than the ${family} tokenizer's ${tok.vocabSize} tokens (its special tokens alone use ids up to ${Math.max(...Object.values(tok.specialIds))})`);
      }
      const config = familyConfig(family, tok, {
        vocabSize, maxPositions,
        layers: o.layers, hidden: o.hidden, heads: o.heads, ff: o.ff,
        embedding: factorised ? o.embeddingSize ?? Math.min(128, o.hidden) : undefined,
      });
      const maxLen = o.maxLen;
      const usable = usablePositions(config);
      if (maxLen > usable) throw new Error(`--max-len ${maxLen} exceeds the ${usable} usable positions of --max-positions ${maxPositions}`);
      const heldoutCount = o.heldout;
      const batchSize = o.batch;
      const maxMb = o.maxCorpusMb;
      const sentences = o.corpus
        ? readSentenceFile(o.corpus, { maxBytes: maxMb * 2 ** 20, minSentences: batchSize + heldoutCount })
        : nlpCorpusSentences();
      if (sentences.length < batchSize + heldoutCount) {
        throw new Error(`the corpus has ${sentences.length} sentences; --heldout ${heldoutCount} plus one batch of ${batchSize} need more`);
      }
      const { train, heldout } = splitTrainHeldout(sentences, { seed: 'pretrain', heldoutFraction: heldoutCount / sentences.length });
      const label = `${o.corpus ?? 'nlp-corpus'} (seed "pretrain", ${train.length} train / ${heldout.length} held out)`;

      const options = {
        steps: o.steps,
        batchSize,
        maxLen,
        lr: o.lr,
        warmupFraction: o.warmup,
        weightDecay: MINI.train.weightDecay,
        clip: MINI.train.clip,
        maskProb: MINI.train.maskProb,
        seed: o.seed,
        checkpointEvery: o.checkpointEvery,
        evalSentences: heldoutCount,
      };
      // Every size and option that shapes the run is part of its identity, so
      // rerunning with, say, another --lr does not continue the old checkpoint.
      const { checkpointEvery: _every, ...identity } = options;
      const idExtra = createHash('sha256').update(JSON.stringify([config, identity])).digest('hex').slice(0, 16);
      if (o.force) for (const f of OUTPUT_FILES) rmSync(join(o.out, f), { force: true });
      const sig = interruptFlag();
      try {
        const res = pretrain(config, tok, train, heldout, o.out, { ...options, quiet: o.quiet, shouldStop: sig.stopped }, label, true, idExtra);
        if (res.interrupted) {
          process.stderr.write(`interrupted; run the same command again to resume (${o.out})\n`);
          process.exitCode = 130;
          return;
        }
        if (o.json) return console.log(JSON.stringify(res.training, null, 2));
        console.log(`pretrained ${family} ${config.numHiddenLayers}×${config.hiddenSize} at ${o.out}`);
        console.log(`  ${trainingSummary(res.training)}`);
      } finally {
        sig.dispose();
      }
    });
}
