/** `lmsanitator encode <model-dir> --text …`: feature extraction, like HF's pipeline of that name. */
import type { Command } from 'commander';
import { noGrad, withScope } from '../engine/index.js';
import { loadModel } from '../models/model.js';
import { exitCodes, intOpt, STANDARD_EXITS } from './options.js';

export function register(program: Command): void {
  exitCodes(program.command('encode <model-dir>'), STANDARD_EXITS)
    .description('run the encoder on a text (or a text pair) and print its outputs')
    .requiredOption('--text <text>', 'the input text')
    .option('--pair <text>', 'a second sequence')
    .addOption(intOpt('--max-len <n>', 'truncate to this many tokens', 2, 128))
    .option('--json', 'print one JSON object with input_ids, attention_mask, last_hidden_state, pooler_output')
    .action((dir: string, o: { text: string; pair?: string; maxLen: number; json?: boolean }) => {
      const model = loadModel(dir);
      const tok = model.tokenizer!;
      const enc = tok.encode(o.text, o.pair ?? null, { maxLength: o.maxLen });
      const T = enc.ids.length;
      const H = model.config.hiddenSize;
      const out = withScope(() =>
        noGrad(() => {
          const r = model.encoder.forward({
            batch: 1, seqLen: T, inputIds: Int32Array.from(enc.ids), attentionMask: enc.attentionMask,
            tokenTypeIds: Int32Array.from(enc.tokenTypeIds),
          });
          const rows = Array.from({ length: T }, (_, t) => Array.from(r.lastHiddenState.data.subarray(t * H, (t + 1) * H)));
          return { hidden: rows, pooler: r.poolerOutput ? Array.from(r.poolerOutput.data) : null };
        }),
      );
      if (o.json) {
        console.log(JSON.stringify({
          input_ids: [enc.ids], attention_mask: [enc.attentionMask], token_type_ids: [enc.tokenTypeIds], tokens: [enc.tokens],
          last_hidden_state: [out.hidden], pooler_output: out.pooler ? [out.pooler] : null,
        }));
        return;
      }
      console.log(`tokens (${T}): ${enc.tokens.join(' ')}`);
      out.hidden.forEach((row, t) => console.log(`${String(t).padStart(4)} ${enc.tokens[t].padEnd(14)} ${row.slice(0, 6).map((x) => x.toFixed(4).padStart(8)).join(' ')} …`));
      if (out.pooler) console.log(`pooler ${out.pooler.slice(0, 6).map((x) => x.toFixed(4)).join(' ')} …`);
    });
}
