/**
 * `lmsanitator <command>`: one file per command under src/cli/, each
 * exporting `register(program)`. Errors print one line and exit 2
 * (scan's verdicts use 0 clean / 1 backdoored, as ClamAV does).
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { commands } from './commands.js';

export const EXIT_ERROR = 2;

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command();
program
  .name('lmsanitator')
  .description('Find and neutralise task-agnostic backdoors in pretrained transformer encoders (LMSanitator).')
  .version(pkg.version)
  .showHelpAfterError();

for (const register of commands) register(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`lmsanitator: ${msg}\n`);
  if (process.env.LMS_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exitCode = EXIT_ERROR;
});
