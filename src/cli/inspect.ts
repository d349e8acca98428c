/** `lmsanitator inspect <model-dir>`: architecture, size, dtype, tokenizer, a sample tokenisation. */
import type { Command } from 'commander';
import { type EncoderConfig, parameterCount, usablePositions } from '../formats/hf-config.js';
import { loadModel } from '../models/model.js';
import { hasTokenizerFiles, TOKENIZER_FILES_TEXT } from '../text/tokenizer-files.js';
import { exitCodes, STANDARD_EXITS } from './options.js';

const SAMPLE = 'The quick brown fox jumps over the lazy dog.';

export function register(program: Command): void {
  exitCodes(program.command('inspect <model-dir>'), STANDARD_EXITS)
    .description('print the architecture, parameter count, dtype, tokenizer kind and a sample tokenisation')
    .option('--text <text>', 'text for the sample tokenisation', SAMPLE)
    .option('--json', 'print one JSON object')
    .action((dir: string, o: { text: string; json?: boolean }) => {
      // The same loader as every other command, so the same path gives the same message. A directory
      // with weights but no tokenizer files at all (e.g. a bare checkpoint) is still described.
      const model = loadModel(dir, { tokenizer: hasTokenizerFiles(dir) });
      const { config } = model;
      const ckpt = model.checkpoint!;
      const dtypes = ckpt.dtypes;
      const tok = model.tokenizer;
      const enc = tok ? tok.encode(o.text) : null;
      const heads = [model.mlm && 'masked-lm', model.sequenceClassifier && `sequence-classification(${model.sequenceClassifier.numLabels})`,
        model.tokenClassifier && `token-classification(${model.tokenClassifier.numLabels})`].filter(Boolean) as string[];
      const info = {
        model_dir: dir,
        model_type: config.sourceModelType,
        architecture: architectureText(config),
        vocab_size: config.vocabSize,
        max_position_embeddings: config.maxPositionEmbeddings,
        parameters: [...model.encoder.params.values()].reduce((s, t) => s + t.size, 0),
        parameters_expected_from_config: parameterCount(config),
        heads,
        checkpoint_format: ckpt.format,
        checkpoint_files: ckpt.files,
        dtypes,
        unused_checkpoint_keys: model.unusedKeys,
        warnings: model.warnings ?? [],
        tokenizer: tok ? { kind: tok.kind, vocab_size: tok.vocabSize, lower_case: tok.doLowerCase, special_ids: tok.specialIds } : null,
        sample: enc ? { text: o.text, tokens: enc.tokens, ids: enc.ids } : null,
      };
      if (o.json) {
        console.log(JSON.stringify(info, null, 2));
        return;
      }
      console.log(`${dir}`);
      console.log(`  model type     ${info.model_type} (${info.architecture})`);
      // XLNet has no position table: its bound is ours (relative attention over at most that many tokens).
      const positions = config.modelType === 'xlnet' ? `${usablePositions(config)} usable (relative attention, no position table)` : String(info.max_position_embeddings);
      console.log(`  vocabulary     ${info.vocab_size}; positions ${positions}`);
      console.log(`  parameters     ${info.parameters.toLocaleString('en')} in the encoder; heads: ${heads.join(', ') || 'none'}`);
      console.log(`  weights        ${info.checkpoint_format} (${dtypes.join(', ')}): ${ckpt.files.join(', ')}`);
      if (model.unusedKeys.length) console.log(`  unused keys    ${model.unusedKeys.join(', ')}`);
      for (const w of info.warnings) console.log(`  warning        ${w}`);
      if (!tok || !enc) {
        console.log(`  tokenizer      none (none of ${TOKENIZER_FILES_TEXT} here)`);
        return;
      }
      console.log(`  tokenizer      ${tok.kind}, ${tok.vocabSize} tokens, lower-case ${tok.doLowerCase ?? 'unknown'}`);
      console.log(`  sample         ${enc.tokens.join(' ')}`);
      console.log(`                 ${enc.ids.join(' ')}`);
    });
}

/** Layers, widths and heads in one line; ELECTRA and ALBERT say their embedding width, ALBERT how its layers are shared. */
function architectureText(c: EncoderConfig): string {
  const layers = c.modelType === 'albert'
    ? `${c.numHiddenLayers} layers (${c.numHiddenGroups} shared group${c.numHiddenGroups === 1 ? '' : 's'} of ${c.innerGroupNum})`
    : `${c.numHiddenLayers} layers`;
  const embedding = c.embeddingSize !== c.hiddenSize ? `, embeddings ${c.embeddingSize}` : '';
  const conv = c.deberta?.conv ? `, ConvLayer after layer 0 (kernel ${c.deberta.conv.kernelSize}, ${c.deberta.conv.act})` : '';
  return `${layers} × hidden ${c.hiddenSize}${embedding}, ${c.numAttentionHeads} heads, FF ${c.intermediateSize}, ${c.hiddenAct}${conv}`;
}
