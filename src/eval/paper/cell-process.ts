/**
 * One `eval paper` cell in a process of its own (`--jobs N`, runner.ts):
 * forked by the runner, it receives the cell and its dependencies' journal
 * records over IPC, runs the cell with the thread share the runner put in
 * its environment, and sends back the outcome. It never touches
 * paper.jsonl: the runner alone appends to it.
 *
 * Why processes: the native engine runs one thread pool per process and a
 * cell computes synchronously for minutes, so cells can only overlap in
 * separate processes. Measured on 2 cores (bert-mini POR copy, 3-loop
 * searches): one search with 2 threads 135 s, two 1-thread searches side by
 * side 212 s, i.e. 1.28× the throughput.
 *
 * Stopping: SIGINT/SIGTERM (the runner forwards its own) set the native
 * interrupt flag that the cell polls; so does the runner's death (the
 * parent pid changes), so an orphan stops at its next safe point instead of
 * racing a rerun.
 */
import { interruptFlag } from '../../util/signals.js';
import { paperBudget } from './budget.js';
import { type CellContext, type CellOutcome, type CellReply, settleCell } from './cells.js';
import { makePlan } from './plan.js';
import type { CellJob } from './runner.js';

const reply = (m: CellReply) => new Promise<void>((resolve) => {
  if (!process.send) return resolve();
  process.send(m, undefined, {}, () => resolve());
});

async function runJob(job: CellJob): Promise<CellReply> {
  const sig = interruptFlag();
  const parent = process.ppid;
  const stop = () => sig.stopped() || process.ppid !== parent;
  try {
    const budget = paperBudget(job.budget);
    const plan = makePlan({ zoo: job.zoo, budget, tables: job.tables, tasks: job.tasks });
    const cell = plan.cells.find((c) => c.id === job.cellId);
    if (!cell) throw new Error(`internal: no cell ${job.cellId} in the plan`);
    const deps = new Map<string, CellOutcome>(Object.entries(job.deps));
    const ctx: CellContext = {
      outDir: job.outDir, dataDir: job.dataDir, budget, quiet: true, shouldStop: stop,
      log: (line) => process.stderr.write(`  ${job.cellId}: ${line.trimStart()}\n`),
      dep: (id) => {
        const r = deps.get(id);
        if (!r) throw new Error(`internal: ${id} is not done`);
        return r;
      },
    };
    return await settleCell(cell, ctx);
  } catch (e) {
    // The job itself was bad (no such cell): not the cell's own failure, but reported the same way.
    return { type: 'failed', error: (e as Error).message };
  } finally {
    sig.dispose();
  }
}

process.once('message', (job: CellJob) => {
  void runJob(job).then(async (m) => {
    await reply(m);
    process.exit(0);
  });
});
