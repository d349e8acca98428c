/**
 * `zoo build <name>`: pretrains a named configuration into the cache
 * ($LMS_HOME, default ~/.cache/lmsanitator/zoo) once; later calls return
 * the cached directory. An interrupted build resumes from its checkpoint.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { nlpCorpusSentences, splitTrainHeldout } from '../text/corpus.js';
import { pretrain } from '../train/pretrain.js';
import { configFor, tokenizerFor, zooEntry } from './configs.js';

export function zooHome(): string {
  return process.env.LMS_HOME ?? join(homedir(), '.cache', 'lmsanitator', 'zoo');
}

/** The corpus split every zoo build uses: nlp-corpus, shuffled and split by a fixed seed. */
export function zooCorpus(trainCount: number, heldoutCount: number): { train: string[]; heldout: string[]; label: string } {
  const all = nlpCorpusSentences();
  const { train, heldout } = splitTrainHeldout(all, { seed: 'zoo', heldoutFraction: heldoutCount / all.length });
  return { train: train.slice(0, trainCount), heldout: heldout.slice(0, heldoutCount), label: `nlp-corpus (seed "zoo", ${Math.min(trainCount, train.length)} train / ${Math.min(heldoutCount, heldout.length)} held out)` };
}

export interface BuildOptions {
  quiet?: boolean;
  force?: boolean;
  shouldStop?: () => boolean;
  /** Overrides for experiments and tests. */
  steps?: number;
  seed?: number;
  home?: string;
}

/** Builds (or finds) a zoo model; returns its directory. */
export function buildZooModel(name: string, o: BuildOptions = {}): { dir: string; built: boolean; interrupted: boolean } {
  const e = zooEntry(name);
  const home = o.home ?? zooHome();
  const dir = join(home, name);
  if (!o.force && existsSync(join(dir, 'training.json')) && existsSync(join(dir, 'model.safetensors'))) {
    return { dir, built: false, interrupted: false };
  }
  if (o.force) rmSync(dir, { recursive: true, force: true });
  const work = `${dir}.partial`;
  mkdirSync(work, { recursive: true });
  const tok = tokenizerFor(e);
  const config = configFor(e, tok);
  const { train, heldout, label } = zooCorpus(e.trainSentences, e.heldoutSentences);
  const steps = o.steps ?? e.train.steps;
  // The step count sets the learning-rate schedule: a resume must not mix runs of different lengths.
  const res = pretrain(config, tok, train, heldout, work, {
    ...e.train, steps, seed: o.seed ?? e.train.seed, quiet: o.quiet, shouldStop: o.shouldStop,
  }, label, true, steps === e.train.steps ? undefined : `steps${steps}`);
  if (res.interrupted) return { dir: work, built: false, interrupted: true };
  rmSync(dir, { recursive: true, force: true });
  renameSync(work, dir);
  return { dir, built: true, interrupted: false };
}
