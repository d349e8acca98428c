// lmsanitator's outputs for model directories, for compare.py to check
// against Hugging Face transformers. Usage (from the repository root, after
// npm run build): node scripts/hf-crosscheck/expected.mjs DIR... > expected.json
import { loadModel } from '../../dist/src/models/model.js';
import { noGrad, reshape, gatherRows } from '../../dist/src/engine/index.js';
const texts = ['a gorgeous, witty film about people.', "The movie wasn't good; I'd not see it again!", 'Unbelievable résumé naïve café 42 times'];
const out = {};
for (const dir of process.argv.slice(2)) {
  const m = loadModel(dir);
  const rows = [];
  for (const t of texts) {
    const enc = m.tokenizer.encode(t, null, { maxLength: 64 });
    const ids = Int32Array.from(enc.ids);
    const T = ids.length, H = m.config.hiddenSize;
    const r = noGrad(() => {
      const o = m.encoder.forward({ batch: 1, seqLen: T, inputIds: ids });
      const res = { input_ids: [...ids], last_hidden_state: [...o.lastHiddenState.data], pooler: o.poolerOutput ? [...o.poolerOutput.data] : null };
      if (m.mlm) res.mlm_logits_first = [...m.mlm.forward(reshape(o.lastHiddenState, [T, H])).data.slice(0, 2 * m.config.vocabSize)];
      if (m.sequenceClassifier) {
        const x = m.sequenceClassifier.usesPooler ? o.poolerOutput : gatherRows(reshape(o.lastHiddenState, [T, H]), Int32Array.from([0]));
        res.cls_logits = [...m.sequenceClassifier.forward(x).data];
      }
      return res;
    });
    rows.push({ text: t, ...r });
  }
  out[dir] = rows;
}
process.stdout.write(JSON.stringify(out));
