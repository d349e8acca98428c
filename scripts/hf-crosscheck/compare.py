"""Loads lmsanitator's model directories with Hugging Face transformers and
compares tokenisation and outputs with ours.

Usage: python3 compare.py expected.json   (made by expected.mjs; the model
directories are found by the paths recorded there, relative to the cwd).
Needs torch and transformers, which the project itself never uses."""
import json, sys, traceback
import torch, transformers
from transformers import AutoTokenizer, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification
exp = json.load(open(sys.argv[1] if len(sys.argv) > 1 else 'expected.json'))
report = {'transformers': transformers.__version__, 'torch': torch.__version__, 'models': {}}
def maxdiff(a, b):
    a = torch.as_tensor(a, dtype=torch.float64).flatten(); b = torch.as_tensor(b, dtype=torch.float64).flatten()
    return float((a - b).abs().max()) if a.numel() == b.numel() else f'size {a.numel()} vs {b.numel()}'
for d, rows in exp.items():
    r = {}
    try:
        tok = AutoTokenizer.from_pretrained(d)
        r['tokenizer_class'] = type(tok).__name__
        r['ids_equal'] = all(tok(x['text'], truncation=True, max_length=64)['input_ids'] == x['input_ids'] for x in rows)
        if not r['ids_equal']:
            r['ids_example'] = [tok(rows[2]['text'])['input_ids'], rows[2]['input_ids']]
        cls = AutoModelForSequenceClassification if 'sst2' in d else AutoModelForMaskedLM
        m, info = cls.from_pretrained(d, output_loading_info=True)
        m.eval()
        r['model_class'] = type(m).__name__
        r['missing_keys'] = sorted(info.get('missing_keys', []))
        r['unexpected_keys'] = sorted(info.get('unexpected_keys', []))
        base = AutoModel.from_pretrained(d); base.eval()
        hd, ld, pd = 0.0, 0.0, 0.0
        for x in rows:
            ids = torch.tensor([x['input_ids']])
            with torch.no_grad():
                o = base(input_ids=ids)
                hd = max(hd, maxdiff(o.last_hidden_state, x['last_hidden_state']))
                if x.get('pooler') is not None and o.pooler_output is not None:
                    pd = max(pd, maxdiff(o.pooler_output, x['pooler']))
                lo = m(input_ids=ids).logits
                if 'cls_logits' in x: ld = max(ld, maxdiff(lo, x['cls_logits']))
                else: ld = max(ld, maxdiff(lo[0, :2].flatten(), x['mlm_logits_first']))
        r.update(hidden_max_abs_diff=hd, pooler_max_abs_diff=pd, logits_max_abs_diff=ld)
    except Exception as e:
        r['error'] = ''.join(traceback.format_exception_only(type(e), e)).strip()
    report['models'][d] = r
print(json.dumps(report, indent=1))
