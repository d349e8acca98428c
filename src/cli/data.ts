/** `lmsanitator data check`: which datasets are present, and which commands can run. */
import type { Command } from 'commander';
import { checkDataDir } from '../text/data-check.js';
import { EXIT_ERROR, exitCodes } from './options.js';

export const EXIT_DATA_MISSING = 1;

export function register(program: Command): void {
  const data = program.command('data').description('the datasets directory (layout: docs/data.md)');
  exitCodes(data.command('check'), [
    [0, 'every command\'s datasets are present and readable'],
    [EXIT_DATA_MISSING, 'some are missing or unreadable (listed); the commands that need them will fail'],
    [EXIT_ERROR, 'no data directory at all, or bad usage'],
  ])
    .description('say what the data directory holds and what each command needs (--data-dir, else $LMS_DATA_DIR, ../shared/data, the bundled slices)')
    .option('--data-dir <dir>', 'datasets directory to check')
    .option('--json', 'print the check as JSON')
    .action((o: { dataDir?: string; json?: boolean }) => {
      const r = checkDataDir(o.dataDir);
      if (r.dir === null) throw new Error('no data directory: pass --data-dir DIR or set LMS_DATA_DIR (layout: docs/data.md)');
      if (r.splits.length === 0) throw new Error(`data directory ${r.dir} (from ${r.source}) does not exist`);
      const ok = r.commands.every((c) => c.ready);
      process.exitCode = ok ? 0 : EXIT_DATA_MISSING;
      if (o.json) return console.log(JSON.stringify(r, null, 2));
      console.log(`data directory ${r.dir} (from ${r.source})`);
      if (r.source === 'bundled slices') console.log('  the small committed slices (docs/data.md): enough for small runs; pass --data-dir for the full datasets');
      for (const s of r.splits) {
        const state = !s.present ? 'missing' : s.error ? `UNREADABLE: ${s.error}` : `${s.rows} rows`;
        console.log(`  ${s.id.padEnd(26)} ${state}`);
      }
      console.log('commands:');
      for (const c of r.commands) console.log(`  ${c.ready ? 'ready  ' : 'MISSING'} ${c.command}${c.missing.length ? ` (needs ${c.missing.join(', ')})` : ''}`);
    });
}
