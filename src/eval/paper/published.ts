/**
 * The paper's published numbers (LMSanitator, the text in
 * ../shared/paper/lmsanitator-paper.txt), for `eval paper` to print beside
 * ours. Every value names its table, row and column, the line of the text
 * file it was read from and the number exactly as printed there.
 *
 * The text was extracted from the PDF and lost its math symbols and most
 * sub-column headers. Where a header is gone but the layout and the
 * paper's own prose fix its meaning, `note` says how it was read; where a
 * label cannot be recovered (the metric rows of Tables 8, 17 and 18), the
 * label says "label lost" and no meaning is assigned. Numbers that exist
 * only in figures are recorded with value null and a note, never guessed.
 */

export type PublishedUnit = 'percent' | 'fraction' | 'count' | 'loops' | 'pvs';

export interface PublishedValue {
  /** Stable key, e.g. "tab2/ptuning/btop/roberta-base/rte/cacc". */
  id: string;
  /** "Table 2", "Figure 6", "Section 5.4 (text)". */
  table: string;
  row: string;
  column: string;
  /** null: the paper has the quantity but the extraction lost the number (see note). */
  value: number | null;
  /** The number as printed ("70.51", "7/60", "62.9±1.1"); null with value null. */
  printed: string | null;
  unit: PublishedUnit;
  /** Counts: the denominator printed with them (7/60 → 60). */
  of?: number;
  /** Table 6: the ± spread printed after the mean. */
  sd?: number;
  /** 1-based line of lmsanitator-paper.txt holding the number. */
  line: number | null;
  note?: string;
}

export const PAPER_FILE = 'lmsanitator-paper.txt';

/** The paper's victim models, as its tables name them. */
export const PAPER_MODELS = {
  'roberta-large': 'RoBERTa-large',
  'roberta-base': 'RoBERTa-base',
  'bert-large-cased': 'BERT-large-cased',
  'bert-base-cased': 'BERT-base-cased',
  'deberta-large': 'DeBERTa-large',
  'deberta-base': 'DeBERTa-base',
  'albert-large-v1': 'ALBERT-large-v1',
  'albert-base-v1': 'ALBERT-base-v1',
  'ernie-2.0-large-en': 'ERNIE-2.0-large-en',
  'ernie-2.0-base-en': 'ERNIE-2.0-base-en',
  'xlnet-large-cased': 'XLNet-large-cased',
  'xlnet-base-cased': 'XLNet-base-cased',
} as const;
export type PaperModel = keyof typeof PAPER_MODELS;

const MAIN_MODELS: PaperModel[] = ['roberta-large', 'roberta-base', 'bert-large-cased', 'bert-base-cased'];

/** Task keys as src/prompt names them, with the paper's column names. */
export const PAPER_TASKS = { rte: 'RTE', boolq: 'BoolQ', 'ag-news': 'AG News', 'yelp-5': 'Yelp-5', 'enron-spam': 'Enron spam', 'sms-spam': 'SMS spam' } as const;
export type PaperTask = keyof typeof PAPER_TASKS;
const TASK_ORDER: PaperTask[] = ['rte', 'boolq', 'ag-news', 'yelp-5', 'enron-spam', 'sms-spam'];

/** The three prompt-method/attack pairs of Tables 2 and 3, in the paper's row order. */
export const PAPER_SETTINGS = [
  { method: 'ptuning', attack: 'btop', label: 'P-tuning, BToP' },
  { method: 'ptuning-v2', attack: 'neuba', label: 'P-tuning v2, NeuBA' },
  { method: 'ptuning-v2', attack: 'por', label: 'P-tuning v2, POR' },
] as const;

const out: PublishedValue[] = [];
const num = (printed: string) => Number(printed.replace('%', ''));

/** One row of a table whose columns are pairs of values per task (Tables 2 and 3). */
function pairRows(
  tab: 'tab2' | 'tab3', table: string, firstLine: number, rows: string[],
  pair: [string, string], pairNames: [string, string], extra: { key: string; name: string }, note: string,
): void {
  rows.forEach((row, i) => {
    const setting = PAPER_SETTINGS[Math.floor(i / 4)]!;
    const model = MAIN_MODELS[i % 4]!;
    const values = row.split(/\s+/);
    if (values.length !== 14) throw new Error(`published ${table} row ${i}: ${values.length} values`);
    const cols: { task: string; taskName: string; k: number }[] = [
      ...TASK_ORDER.map((t, k) => ({ task: t as string, taskName: PAPER_TASKS[t] as string, k })),
      { task: `sms-spam/${extra.key}`, taskName: `SMS spam ${extra.name}`, k: 6 },
    ];
    for (const c of cols) {
      for (let j = 0; j < 2; j++) {
        const printed = values[2 * c.k + j]!;
        out.push({
          id: `${tab}/${setting.method}/${setting.attack}/${model}/${c.task}/${pair[j]}`,
          table, row: `${setting.label}, ${PAPER_MODELS[model]}`, column: `${c.taskName}, ${pairNames[j]}`,
          value: num(printed), printed, unit: 'percent', line: firstLine + i, note,
        });
      }
    }
  });
}

// Table 2: CACC and BACC (%) per task; SMS spam also macro-F1.
pairRows('tab2', 'Table 2', 122, [
  '70.51 68.35 69.53 64.55 90.27 88.65 60.84 49.88 96.18 95.76 99.10 99.28 96.50 97.19',
  '61.61 62.94 61.85 62.14 88.90 88.82 55.69 50.14 95.88 94.49 96.50 97.19 98.13 98.35',
  '58.60 55.23 62.16 62.32 88.67 86.98 49.75 47.63 92.27 90.88 99.46 99.16 97.90 96.68',
  '54.99 54.99 62.29 62.09 88.10 88.47 47.16 45.24 93.78 92.35 99.58 99.40 98.36 97.68',
  '87.00 85.92 83.70 83.49 95.00 95.00 67.14 63.57 99.29 98.29 99.82 99.73 99.31 98.95',
  '76.90 70.15 78.69 78.81 92.57 93.14 62.86 60.43 98.71 98.43 99.64 99.55 98.61 98.28',
  '75.45 71.12 73.12 73.06 92.57 92.71 58.00 56.71 98.86 98.71 99.55 99.55 98.25 98.26',
  '71.84 69.79 72.02 71.90 92.00 91.71 57.71 55.71 98.57 98.71 98.83 99.28 95.53 97.18',
  '87.00 86.28 83.70 83.43 95.00 94.57 67.14 63.57 99.29 99.29 99.82 99.64 99.31 98.60',
  '76.90 75.45 78.69 78.20 92.57 91.86 62.86 60.00 98.71 98.57 99.64 99.37 98.61 97.54',
  '75.45 75.81 73.12 73.09 92.57 92.14 58.00 57.71 98.86 98.86 99.55 99.55 98.25 98.25',
  '71.84 70.40 72.02 72.78 92.00 91.57 57.71 57.00 98.57 98.43 98.83 98.83 95.53 95.47',
], ['cacc', 'bacc'], ['CACC', 'BACC'], { key: 'macro-f1', name: 'macro-F1' },
'Sub-column headers lost in extraction; each task holds two numbers, read as (CACC, BACC): the NeuBA and POR rows share the first (the clean backbone\'s prompt), and Table 6\'s accuracy without defence equals the second (62.9 = 62.94 for RTE, BToP, RoBERTa-base). The last pair sits under "F1" after SMS spam (the paper compares SMS spam\'s macro-F1).');

// Table 3: ASR (%) without and with LMSanitator per task; SMS spam also weighted ASR.
pairRows('tab3', 'Table 3', 136, [
  '100.0 0.00 99.92 0.05 100.0 0.00 99.59 0.00 76.33 26.69 99.85 0.18 99.91 0.63',
  '100.0 0.57 99.88 0.00 100.0 0.04 99.36 0.22 90.03 0.74 99.88 0.00 99.93 0.00',
  '100.0 0.00 99.95 0.10 99.70 0.27 99.35 0.00 87.51 1.28 99.94 0.09 99.97 0.38',
  '100.0 0.00 99.87 0.05 100.0 0.00 99.34 0.00 91.81 0.00 100.0 0.00 100.0 0.00',
  '98.25 2.18 25.50 5.19 99.91 2.53 16.55 13.67 13.10 2.29 67.09 0.18 80.53 0.40',
  '100.0 8.34 99.53 10.29 99.91 5.42 97.37 14.28 47.44 6.05 94.95 0.63 97.11 1.02',
  '11.11 9.72 19.72 8.26 99.96 6.80 82.63 17.69 59.78 5.59 100.0 7.21 100.0 9.24',
  '100.0 10.22 97.99 7.77 99.93 23.91 81.00 37.13 15.62 3.72 99.73 0.72 99.85 1.97',
  '100.0 0.00 92.88 0.37 99.98 0.18 86.66 23.61 26.63 1.21 98.83 0.09 99.33 0.35',
  '99.01 8.42 100.0 3.63 98.10 2.92 100.0 5.35 98.78 2.08 64.98 0.45 78.13 1.03',
  '99.36 0.70 100.0 0.36 74.00 0.00 18.76 0.95 86.94 1.87 21.62 0.27 52.40 0.78',
  '100.0 0.00 100.0 0.06 99.97 0.00 68.09 0.12 80.34 6.21 47.01 0.00 49.67 0.00',
], ['asr', 'asr-guarded'], ['ASR w/o defence', 'ASR with LMSanitator'], { key: 'weighted', name: 'weighted ASR' },
'Sub-column headers lost in extraction; each task holds two numbers, read as (ASR without defence, ASR with LMSanitator) from the text ("left": ASR; "right": after deploying the defence) and Table 6 (RTE, BToP, RoBERTa-base: 100.0 → 0.6 = 100.0, 0.57). The last pair sits under "Weighted" after SMS spam, as Table 2\'s F1 pair does. The paper\'s defence here used the mined PVs plus the attacker\'s PVs not mined (its best case).');

// Table 4: detection by target token, held-out models.
{
  const cols = [
    ['cls/fp', '[CLS], FP', 'count'], ['cls/fn-por', '[CLS], FN (POR)', 'count'], ['cls/fn-neuba', '[CLS], FN (NeuBA)', 'count'], ['cls/acc', '[CLS], Acc', 'percent'],
    ['mask/fp', '[MASK], FP', 'count'], ['mask/fn-btop', '[MASK], FN (BToP)', 'count'], ['mask/acc', '[MASK], Acc', 'percent'],
    ['token/fp', 'Normal token, FP', 'count'], ['token/fn-por-ner', 'Normal token, FN (POR-NER)', 'count'], ['token/acc', 'Normal token, Acc', 'percent'],
    ['average-acc', 'Average Acc', 'percent'],
  ] as const;
  const rows = [
    '7/60 2/30 11/30 83.3% 1/30 1/30 96.7% 0/30 13/30 78.3% 85.4%',
    '9/60 0/30 0/30 92.5% 3/30 0/30 95.0% 1/30 0/30 93.3% 94.6%',
    '8/60 0/30 5/30 89.2% 0/30 0/30 100.0% 0/30 3/30 95.0% 93.3%',
    '0/60 0/30 2/30 98.3% 0/30 0/30 100.0% 0/30 3/30 95.0% 98.0%',
  ];
  rows.forEach((row, i) => {
    const model = MAIN_MODELS[i]!;
    row.split(' ').forEach((printed, k) => {
      const [key, name, unit] = cols[k]!;
      const count = printed.match(/^(\d+)\/(\d+)$/);
      out.push({
        id: `tab4/${model}/${key}`, table: 'Table 4', row: PAPER_MODELS[model], column: name,
        value: count ? Number(count[1]) : num(printed), printed, unit, ...(count ? { of: Number(count[2]) } : {}), line: 160 + i,
      });
    });
  });
  out.push({
    id: 'tab4/overall-accuracy', table: 'Section 5.3 (text)', row: 'all attacks and models', column: 'average detection accuracy',
    value: 92.8, printed: '92.8%', unit: 'percent', line: 170, note: '"Across all 4 attacks, we achieve an average of 92.8% detection accuracy" (also in the abstract: 960 models).',
  });
}

// Table 5: trigger inversion (Piccolo) vs PV search.
{
  const rows: [PaperModel, string][] = [
    ['roberta-large', '0 0 4 1'], ['roberta-base', '1 0 4 4'], ['bert-large-cased', '0 0 15 4'], ['bert-base-cased', '0 0 7 4'],
    ['deberta-large', '0 0 11 6'], ['deberta-base', '0 0 2 2'], ['albert-large-v1', '3 0 3 3'], ['albert-base-v1', '1 0 1 1'],
    ['ernie-2.0-large-en', '0 0 2 2'], ['ernie-2.0-base-en', '0 0 4 2'], ['xlnet-large-cased', '2 0 20 2'], ['xlnet-base-cased', '1 0 20 2'],
  ];
  const cols = [['piccolo/c', 'Piccolo, #C'], ['piccolo/tt', 'Piccolo, #TT'], ['ours/c', 'LMSanitator, #C'], ['ours/tp', 'LMSanitator, #TP']] as const;
  rows.forEach(([model, row], i) => row.split(' ').forEach((printed, k) => {
    out.push({
      id: `tab5/${model}/${cols[k]![0]}`, table: 'Table 5', row: PAPER_MODELS[model], column: cols[k]![1], value: num(printed), printed, unit: 'count', line: 189 + i,
      note: '#C: convergences (Piccolo: 4 target labels × 5 inversions on an AG News head; LMSanitator: 20 fuzz loops); #TT: true triggers Piccolo found; #TP: true PVs LMSanitator found (our reading of the abbreviations, from the Section 5.6 text).',
    });
  }));
}

// Table 6: trigger removal vs ONION, accuracy and ASR (%), mean ± spread over three seeds.
export const TAB6_INSTANCES = [
  { key: 'rte/btop/roberta-base', task: 'rte', attack: 'btop', method: 'ptuning', model: 'roberta-base' as PaperModel, label: 'RTE, BToP, RoBERTa-base' },
  { key: 'rte/neuba/bert-large-cased', task: 'rte', attack: 'neuba', method: 'ptuning-v2', model: 'bert-large-cased' as PaperModel, label: 'RTE, NeuBA, BERT-large-cased' },
  { key: 'rte/por/roberta-base', task: 'rte', attack: 'por', method: 'ptuning-v2', model: 'roberta-base' as PaperModel, label: 'RTE, POR, RoBERTa-base' },
  { key: 'yelp-5/por/roberta-large', task: 'yelp-5', attack: 'por', method: 'ptuning-v2', model: 'roberta-large' as PaperModel, label: 'Yelp-5, POR, RoBERTa-large' },
] as const;
{
  const rows = [
    '62.9±1.1 62.3±0.6 61.3±0.8 100.0±0.0 0.6±00.0 35.7±3.6',
    '71.1±2.3 71.6±1.3 66.7±1.0 11.1±5.9 9.7±07.2 10.1±5.8',
    '75.5±1.2 75.5±1.2 73.9±0.6 99.0±0.3 8.4±02.4 36.1±3.3',
    '63.6±1.9 63.4±1.2 62.2±0.9 86.7±4.0 23.6±11.6 66.3±5.4',
  ];
  const cols = [['acc/none', 'ACC, w/o defence'], ['acc/lmsanitator', 'ACC, LMSanitator'], ['acc/onion', 'ACC, ONION'], ['asr/none', 'ASR, w/o defence'], ['asr/lmsanitator', 'ASR, LMSanitator'], ['asr/onion', 'ASR, ONION']] as const;
  rows.forEach((row, i) => row.split(' ').forEach((printed, k) => {
    const [mean, sd] = printed.split('±');
    out.push({
      id: `tab6/${TAB6_INSTANCES[i]!.key}/${cols[k]![0]}`, table: 'Table 6', row: TAB6_INSTANCES[i]!.label, column: cols[k]![1],
      value: Number(mean), printed, sd: Number(sd), unit: 'percent', line: 205 + i,
      note: 'Metric symbols lost in extraction; read as accuracy (first three) and ASR (last three) from the text ("The average [accuracy] decrease caused by LMSanitator is only 0.075%", ONION "2.2% decrease") and from Table 2/3 (62.9 = BACC 62.94, 100.0 = ASR 100.0). The bracketed differences printed after each value are derived, not stored.',
    });
  }));
}

// Table 7: detection rate under fewer PVs.
{
  const rows = ['0.77 0.80 0.83 0.93', '0.97 0.97 0.90 0.97', '1.00 1.00 1.00 1.00', '1.00 1.00 1.00 1.00'];
  const cols = [['one-pv/word', 'one PV, word'], ['one-pv/phrase', 'one PV, phrase'], ['two-pvs/word', 'two PVs, word'], ['two-pvs/phrase', 'two PVs, phrase']] as const;
  rows.forEach((row, i) => row.split(' ').forEach((printed, k) => {
    out.push({
      id: `tab7/${MAIN_MODELS[i]}/${cols[k]![0]}`, table: 'Table 7', row: PAPER_MODELS[MAIN_MODELS[i]!], column: cols[k]![1],
      value: num(printed), printed, unit: 'fraction', line: 215 + i, note: 'Detection rate over 30 POR-backdoored models per cell (Section 6).',
    });
  }));
}

/** Tables 8 and 18: loss-weight sweeps on RoBERTa-base, three metric rows whose labels were lost, then the detection rate. */
function sweep(tab: string, table: string, firstLine: number, weights: { por: string[]; btop: string[] }, rows: string[], note: string): void {
  const cols = [...weights.por.map((w) => ['por', w]), ...weights.btop.map((w) => ['btop', w])] as [string, string][];
  const names = ['metric row 1 (label lost)', 'metric row 2 (label lost)', 'metric row 3 (label lost)', 'Detection Rate'];
  const keys = ['row1', 'row2', 'row3', 'detection-rate'];
  rows.forEach((row, i) => row.split(' ').forEach((printed, k) => {
    const [attack, w] = cols[k]!;
    out.push({
      id: `${tab}/${attack}/${w}/${keys[i]}`, table, row: names[i]!, column: `${attack === 'por' ? 'POR' : 'BToP'}, loss weight ${w}`,
      value: num(printed), printed, unit: 'fraction', line: firstLine + 1 + i, note,
    });
  }));
}
sweep('tab8', 'Table 8', 222, { por: ['1', '5', '6', '7', '10'], btop: ['10', '60', '70', '80', '100'] }, [
  '0.92 0.90 0.89 0.88 0.85 0.88 0.87 0.87 0.85 0.82',
  '1.00 0.99 0.78 0.41 0.21 1.00 0.99 0.86 0.32 0.17',
  '0.99 0.97 0.38 0.18 0.10 1.00 0.91 0.52 0.14 0.09',
  '1.00 1.00 0.50 0.03 0.00 1.00 0.93 0.63 0.00 0.00',
], 'Scattering-loss adaptive attack, RoBERTa-base, AG News with P-tuning v2, 30 models per weight. The text names accuracy, ASR and targetability as the measured metrics, but the labels of the three metric rows were lost; they are not assigned here.');
sweep('tab18', 'Table 18', 482, { por: ['0.1', '0.2', '0.3', '0.4', '0.5', '1'], btop: ['1', '10', '100', '1000'] }, [
  '0.922 0.918 0.915 0.918 0.911 0.919 0.888 0.886 0.885 0.886',
  '1.00 0.98 0.83 0.40 0.27 0.09 1.00 1.00 1.00 0.84',
  '0.99 0.91 0.54 0.28 0.11 0.05 1.00 0.99 0.99 0.61',
  '1.00 0.97 0.87 0.60 0.40 0.00 1.00 0.90 0.93 0.77',
], 'Wasserstein-loss adaptive attack (appendix M), RoBERTa-base, same setup as Table 8. Labels of the three metric rows lost in extraction; not assigned here.');

// Table 17: frequent-word triggers (appendix M).
{
  const rows = ['0.946 0.77 0.936 0.93 0.935 0.93', '0.920 0.97 0.913 1.00 0.914 1.00', '0.924 1.00 0.921 1.00 0.915 0.97', '0.921 1.00 0.921 1.00 0.917 1.00'];
  const cols = [['rare/col1', 'Rare (<0.0001), first column (label lost)'], ['rare/dr', 'Rare (<0.0001), DR'], ['moderate/col1', 'Moderate (0.0001~0.001), first column (label lost)'], ['moderate/dr', 'Moderate (0.0001~0.001), DR'], ['frequent/col1', 'Frequent (>0.001), first column (label lost)'], ['frequent/dr', 'Frequent (>0.001), DR']] as const;
  rows.forEach((row, i) => row.split(' ').forEach((printed, k) => {
    out.push({
      id: `tab17/${MAIN_MODELS[i]}/${cols[k]![0]}`, table: 'Table 17', row: PAPER_MODELS[MAIN_MODELS[i]!], column: cols[k]![1],
      value: num(printed), printed, unit: 'fraction', line: 477 + i, note: 'DR: detection rate over 30 POR models per cell. The first column of each frequency band lost its header.',
    });
  }));
}

// Numbers given in the text for figures and the ablation; the figures' own points are not in the text.
out.push(
  { id: 'fig6/recall-1000', table: 'Figure 6 (Section 5.4 text)', row: '42 models, 12 architectures, 4 attacks', column: 'PV recall after 1000 loops', value: 94.8, printed: '94.8%', unit: 'percent', line: 174, note: '239 of 252 attack PVs.' },
  { id: 'fig6/found-1000', table: 'Figure 6 (Section 5.4 text)', row: '42 models, 12 architectures, 4 attacks', column: 'PVs found after 1000 loops', value: 239, printed: '239', of: 252, unit: 'pvs', line: 174 },
  { id: 'fig6/recall-patience-200', table: 'Figure 6 (Section 5.4 text)', row: '42 models, 12 architectures, 4 attacks', column: 'PV recall, stopping after 200 loops without a new PV', value: 90.5, printed: '90.5%', unit: 'percent', line: 174, note: '228 of 252 attack PVs.' },
  { id: 'fig6/per-model', table: 'Figure 6', row: 'each architecture and attack', column: 'PVs found vs loops', value: null, printed: null, unit: 'pvs', line: null, note: 'Only in the figure; the text file holds no per-architecture points.' },
  { id: 'ablation/path-loss/bert-base-cased', table: 'Section 5.5 (text)', row: 'BERT-base-cased, without path loss', column: 'unique PVs after 1000 loops', value: 2, printed: '2', unit: 'pvs', line: 182 },
  { id: 'ablation/path-loss/bert-base-cased-with', table: 'Section 5.5 (text)', row: 'BERT-base-cased, with path loss', column: 'loops to find 3 unique PVs', value: 53, printed: '53', unit: 'loops', line: 182 },
  { id: 'ablation/figure-9', table: 'Figure 9', row: 'RoBERTa-base, BERT-base-cased (30 POR models each)', column: 'convergences and loops to 3 unique PVs, with/without path loss and adaptive lr', value: null, printed: null, unit: 'loops', line: null, note: 'Only in the figure; the text says removing path loss raises convergences needed, removing the adaptive rate raises loops on RoBERTa-base.' },
  { id: 'fig14/frr-eta-0.8', table: 'Appendix E/I (text)', row: 'four instances of Figure 14', column: 'FRR at η = 0.8', value: 0, printed: '0', unit: 'fraction', line: 349, note: '"when [η] is set to 0.8, the false reject rate of [LMSanitator] is 0".' },
  { id: 'fig14/histograms', table: 'Figure 14', row: 'four instances', column: 'match-rate histograms', value: null, printed: null, unit: 'fraction', line: null, note: 'Only in the figure.' },
);

export const PUBLISHED: readonly PublishedValue[] = Object.freeze(out);
const BY_ID = new Map(PUBLISHED.map((v) => [v.id, v]));

/** The published value with this id, or undefined (the paper has no such number). */
export function published(id: string): PublishedValue | undefined {
  return BY_ID.get(id);
}

/**
 * The paper model our zoo model is compared with: the smallest model of
 * the same family the paper has (the base size), since no paper model is
 * as small as ours. null: the paper has no model of that family.
 */
export function paperCounterpart(family: string): PaperModel | null {
  if (family === 'bert') return 'bert-base-cased';
  if (family === 'roberta') return 'roberta-base';
  if (family === 'albert') return 'albert-base-v1';
  return null;
}
