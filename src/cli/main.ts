/**
 * `lmsanitator <command>`: one file per command under src/cli/, each
 * exporting `register(program)`, each a thin layer over the library API
 * (src/index.ts). Every error — bad usage included — prints one line and
 * exits 2, so that scan's verdict codes (0 clean, 1 backdoored, as ClamAV)
 * never mean "you typed it wrong".
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { commands } from './commands.js';
import { EXIT_ERROR, EXIT_OK } from './options.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

// A reader that stops early (`lmsanitator --help | head`, `guard … | head -1`) closes
// the pipe: that ends the output, it is not an error to report with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK);
    throw e;
  });
}

const program = new Command();
program
  .name('lmsanitator')
  .description('Find and neutralise task-agnostic backdoors in pretrained transformer encoders (LMSanitator).')
  .version(pkg.version)
  // Commander's own error output is a message plus, for a missing
  // subcommand, the whole help on stderr; we print one line instead.
  .exitOverride()
  .configureOutput({ writeErr: () => {}, outputError: () => {} })
  .addHelpText('after', '\nExit codes: 0 success (scan: clean), 1 scan/search: backdoored, 2 error or bad usage, 130 interrupted.\nRun "lmsanitator <command> --help" for a command\'s options and exit codes.');

for (const register of commands) register(program);

/** The command the argv names, deepest first match ("zoo build"), for messages. */
function commandPath(argv: readonly string[]): { path: string; cmd: Command } {
  let cmd = program;
  const names = ['lmsanitator'];
  for (const arg of argv) {
    if (arg.startsWith('-')) continue;
    const sub = cmd.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!sub) break;
    cmd = sub;
    names.push(arg);
  }
  return { path: names.join(' '), cmd };
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').trim();

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') {
      process.exitCode = EXIT_OK;
      return;
    }
    const { path, cmd } = commandPath(process.argv.slice(2));
    const problem = err.code === 'commander.help'
      ? `missing command; one of: ${cmd.commands.map((c) => c.name()).join(', ')}`
      : oneLine(err.message.replace(/^error: /, ''));
    process.stderr.write(`${path}: ${problem} (see "${path} --help")\n`);
    process.exitCode = EXIT_ERROR;
    return;
  }
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`lmsanitator: ${oneLine(msg)}\n`);
  if (process.env.LMS_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exitCode = EXIT_ERROR;
});
