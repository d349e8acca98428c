/**
 * `lmsanitator serve`: the guard as an HTTP service (src/serve/server.ts,
 * src/serve/README.md). Several prompts may share the one backbone; each is
 * addressed by its name (the directory's name, or NAME=DIR). Status lines
 * go to stderr; SIGTERM / SIGINT stop it gracefully (exit 0), a second one
 * at once (130).
 */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { MonitorPlacement, OnUnpurified } from '../guard/guard.js';
import { selfCheckWarning } from '../guard/self-check.js';
import { checkPromptSpecs, SERVE_DEFAULTS } from '../serve/defaults.js';
import type { PromptSpec } from '../serve/types.js';
import { guardOptions } from './guard.js';
import { EXIT_INTERRUPTED, EXIT_OK, exitCodes, intOpt, numOpt, STANDARD_EXITS } from './options.js';

interface ServeCliOptions {
  prompt: string[];
  pvs: string[];
  host: string;
  port: number;
  maxBatch: number;
  maxWaitMs: number;
  threshold: number;
  maxWindow: number;
  onUnpurified: OnUnpurified;
  monitor: MonitorPlacement;
  auditLog?: string;
  maxInputs: number;
  maxBody: number;
  maxTextChars: number;
  maxQueue: number;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** --prompt DIR (named after the directory) or --prompt NAME=DIR. */
export function parsePromptArg(value: string): PromptSpec {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)=(.+)$/.exec(value);
  if (m && !existsSync(value)) return { name: m[1]!, dir: m[2]! };
  return { name: basename(resolve(value)), dir: value };
}

function port(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('Expected a port number, 0 to 65535 (0: any free port).');
  return n;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

async function serve(modelDir: string, o: ServeCliOptions): Promise<void> {
  const log = (line: string) => process.stderr.write(`lmsanitator serve: ${line}\n`);
  const prompts = o.prompt.map(parsePromptArg);
  checkPromptSpecs(prompts);
  // The HTTP stack loads only here, not with every command.
  const { startServer } = await import('../serve/server.js');
  const server = await startServer({
    modelDir, prompts, pvs: o.pvs, host: o.host, port: o.port, maxBatch: o.maxBatch, maxWaitMs: o.maxWaitMs,
    threshold: o.threshold, maxWindow: o.maxWindow, onUnpurified: o.onUnpurified, monitor: o.monitor, auditLog: o.auditLog ?? null,
    maxInputs: o.maxInputs, maxBodyBytes: o.maxBody, maxTextChars: o.maxTextChars, maxQueue: o.maxQueue, log,
  });
  if (!LOOPBACK.has(o.host)) log(`warning: listening on ${o.host}, reachable from other machines; there is no authentication`);
  log(`listening on ${server.url} (loading the model; GET /readyz says when it is ready)`);

  let stopping = false;
  const stopped = new Promise<void>((done) => {
    const onSignal = (sig: string) => {
      if (stopping) {
        log(`${sig} again: stopping at once`);
        process.exit(EXIT_INTERRUPTED);
      }
      stopping = true;
      log(`${sig}: not accepting new connections; finishing ${server.batcher.pendingRequests} request(s) in flight (${sig} again to stop at once)`);
      server.close().then(() => {
        log('stopped');
        done();
      }, (e: Error) => {
        log(`error while stopping: ${e.message}`);
        done();
      });
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });

  try {
    const info = await server.ready;
    log(`ready: ${info.prompts.map((p) => `"${p.name}" (${p.method} ${p.task}, ${p.pvs} PVs)`).join(', ')} on backbone ${info.modelHash.slice(0, 12)}…; η ${info.threshold}, --max-batch ${o.maxBatch}, --max-wait-ms ${o.maxWaitMs}${o.auditLog ? `, audit log ${o.auditLog}` : ''}`);
    for (const p of info.prompts) {
      const warning = selfCheckWarning(p.self_check, `prompt "${p.name}"`);
      if (warning) log(warning);
    }
  } catch (e) {
    if (!stopping) {
      await server.close();
      throw e; // one line, exit 2 (main.ts)
    }
  }
  await stopped;
  process.exitCode = EXIT_OK;
  // Nothing should keep the process alive now; if something does, leave anyway.
  setTimeout(() => process.exit(EXIT_OK), 2000).unref();
}

export function register(program: Command): void {
  // 0 "done": stopped by SIGTERM / SIGINT after answering every request received; 2 also when a prompt or PV set fails to load or the port is taken.
  const cmd = exitCodes(program.command('serve <model-dir>'), [...STANDARD_EXITS, [EXIT_INTERRUPTED, 'a second SIGTERM / SIGINT while stopping: stopped at once']])
    .description('serve the guard over HTTP: POST /v1/classify runs every input through the PV sign monitor and trigger removal before classifying it; /healthz, /readyz, /metrics, /openapi.json, and a page at /. Runs until SIGTERM / SIGINT, then answers the requests it has and exits 0')
    .requiredOption('--prompt <prompt-dir>', 'a prompt directory on this backbone, addressed by its directory name (or NAME=DIR); repeat for several', collect)
    .requiredOption('--pvs <pvset.safetensors>', 'the PV set found on this backbone; repeat to give one per monitoring mode (each prompt takes the one in its mode)', collect)
    .option('--host <host>', 'the address to listen on (anything but loopback opens it to the network: there is no authentication)', SERVE_DEFAULTS.host)
    .addOption(new Option('--port <n>', 'the TCP port (0: any free port, printed at start)').argParser(port).default(SERVE_DEFAULTS.port))
    .addOption(intOpt('--max-batch <n>', 'most inputs in one inference batch (dynamic batching of concurrent requests)', 1, SERVE_DEFAULTS.maxBatch))
    .addOption(numOpt('--max-wait-ms <ms>', 'longest a request waits for others to fill a batch', 0, SERVE_DEFAULTS.maxWaitMs));
  guardOptions(cmd)
    .option('--audit-log <file>', 'append one JSON line per flagged input (time, request id, prompt, match rate, PV, removed words, action); continued across restarts')
    .addOption(intOpt('--max-inputs <n>', 'most inputs in one request', 1, SERVE_DEFAULTS.maxInputs))
    .addOption(intOpt('--max-body <bytes>', 'largest request body', 256, SERVE_DEFAULTS.maxBodyBytes))
    .addOption(intOpt('--max-text-chars <n>', 'longest text (and text_pair) in characters; longer than the model reads in tokens is refused too (422)', 1, SERVE_DEFAULTS.maxTextChars))
    .addOption(intOpt('--max-queue <n>', 'most inputs waiting for a batch; beyond it requests get 503 and Retry-After', 1, SERVE_DEFAULTS.maxQueue))
    .action(serve);
}
