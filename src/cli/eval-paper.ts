/**
 * `lmsanitator eval paper`: the paper's evaluation in one command — every
 * table and figure (src/eval/paper/), journaled and resumable, written to
 * DIR/paper.json and DIR/paper.html. A thin layer over eval/paper/runner.ts.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ALL_BUDGETS, type BudgetName, BUDGETS } from '../eval/paper/budget.js';
import { PAPER_TABLES } from '../eval/paper/plan.js';
import { runPaper } from '../eval/paper/runner.js';
import { PROMPT_TASKS } from '../prompt/index.js';
import { ZOO } from '../zoo/configs.js';
import { exitCodes, intOpt, JOB_EXITS, listOf } from './options.js';
import { interruptFlag } from '../util/signals.js';

interface PaperCliOpts {
  zoo: string[];
  out: string;
  budget: BudgetName;
  dataDir?: string;
  tables?: string[];
  tasks?: string[];
  quiet?: boolean;
  json?: boolean;
  jobs: number;
}

/** quick | full (and the test budget "tiny", which --help does not list). */
const budgetName = (v: string): BudgetName => {
  if (!(ALL_BUDGETS as readonly string[]).includes(v)) throw new InvalidArgumentError(`Allowed choices are ${BUDGETS.join(', ')}.`);
  return v as BudgetName;
};

async function run(o: PaperCliOpts): Promise<void> {
  const sig = interruptFlag();
  try {
    const r = await runPaper({
      zoo: o.zoo, budget: o.budget, outDir: o.out, dataDir: o.dataDir, tables: o.tables, tasks: o.tasks,
      quiet: o.quiet || o.json, shouldStop: sig.stopped, log: (l) => process.stderr.write(`${l}\n`), jobs: o.jobs,
    });
    if (r.interrupted) {
      process.stderr.write(`interrupted; ${r.done} of ${r.total} cells done, journal in ${o.out}; run the same command to resume\n`);
      process.exitCode = 130;
      return;
    }
    const rep = r.report!;
    if (o.json) return console.log(JSON.stringify(rep, null, 2));
    console.log(`eval paper (${rep.budget.name}) on ${rep.zoo.join(', ')}: ${Object.entries(rep.counts).map(([k, v]) => `${v} ${k}`).join(', ')} cells`);
    for (const t of rep.tables) {
      const entries = t.rows.flatMap((row) => row.entries);
      const ours = entries.filter((e) => e.ours !== null).length;
      console.log(`  ${t.id.padEnd(9)} ${String(ours).padStart(4)} of ${String(entries.length).padEnd(4)} values measured  ${t.title.split(': ')[1] ?? ''}`);
    }
    if (r.failed.length) console.log(`  failed this run (the next run retries them): ${r.failed.join(', ')}`);
    console.log(`\n→ ${r.jsonFile}\n→ ${r.htmlFile}`);
  } finally {
    sig.dispose();
  }
}

/** `eval paper`, registered under the eval command group. */
export function registerEvalPaper(ev: Command): void {
  exitCodes(ev.command('paper'), JOB_EXITS)
    .description('the paper\'s evaluation in one command: Tables 2–8, 17, 18, the ablations and Figures 6 and 14 on zoo models, beside the paper\'s numbers (journaled, resumable; paper.json, paper.html)')
    .addOption(new Option('--zoo <list>', `comma-separated zoo models from ${Object.keys(ZOO).join(', ')} (built into $LMS_HOME when missing)`).argParser(listOf(Object.keys(ZOO))).makeOptionMandatory())
    .requiredOption('--out <dir>', 'working directory: paper.jsonl (journal), paper-settings.json, models/, guard/, detection/, adaptive/, paper.json, paper.html')
    .addOption(new Option('--budget <name>', `${BUDGETS.join(' or ')}: quick runs every table on the first --zoo model with fewer models, tasks and loops; full is the reference run`).argParser(budgetName).default('quick'))
    .option('--data-dir <dir>', 'datasets directory (default $LMS_DATA_DIR, ../shared/data, else the bundled slices)')
    .addOption(new Option('--tables <list>', `only these tables/figures, from ${PAPER_TABLES.join(', ')}`).argParser(listOf(PAPER_TABLES)))
    .addOption(new Option('--tasks <list>', 'only these of the budget\'s tasks (Tables 2, 3, 6; Figure 14)').argParser(listOf(PROMPT_TASKS.filter((t) => t !== 'conll04'))))
    .addOption(intOpt('--jobs <n>', 'cells run at the same time, each in its own process with LMS_NUM_THREADS / n threads (cells that share files never overlap); 1 runs them one by one in this process', 1, 1))
    .option('--quiet', 'no progress bars (the per-cell lines stay)')
    .option('--json', 'print paper.json on stdout instead of the summary')
    .action(run);
}
