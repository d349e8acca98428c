/**
 * The CLI's usage contract, tried as a script would: every command with bad
 * usage exits 2 (never scan's "backdoored" 1) with one line on stderr that
 * names the problem and points at --help, before any work starts; every
 * --help lists the command's exit codes, numeric defaults and choices.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import { fixtureModelDir, tmpDir } from '../train/helpers.js';
import { readFixture } from '../text/helpers.js';

const BIN = join(import.meta.dirname, '..', '..', '..', 'bin', 'lmsanitator.js');
const run = (args: string[], cwd?: string) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd, env: { ...process.env, LMS_CACHE: tmpDir('cache'), LMS_HOME: tmpDir('zoo') } });
const model = fixtureModelDir({ seed: 3 });

function sentencesFile(): string {
  const file = join(tmpDir('sent'), 's.txt');
  const lines = readFixture('sst2-dev-head.tsv').split('\n').slice(1).map((l) => l.split('\t')[0]).filter((l) => l.length > 10);
  writeFileSync(file, lines.join('\n'));
  return file;
}

/** [argv, what the one line must say] — each must fail fast with exit 2. */
const BAD_USAGE: [string[], RegExp][] = [
  [[], /^lmsanitator: missing command; one of: .*scan.* \(see "lmsanitator --help"\)$/],
  [['banana'], /^lmsanitator: unknown command 'banana'/],
  [['zoo'], /^lmsanitator zoo: missing command; one of: list, build \(see "lmsanitator zoo --help"\)$/],
  [['eval'], /^lmsanitator eval: missing command; one of: detection, prompt, recall, triggers, victims/],
  [['data'], /^lmsanitator data: missing command; one of: check/],
  [['scan'], /^lmsanitator scan: missing required argument 'model-dir' \(see "lmsanitator scan --help"\)$/],
  [['scan', model, '--bogus'], /^lmsanitator scan: unknown option '--bogus'/],
  [['scan', model, 'extra'], /^lmsanitator scan: too many arguments for 'scan'/],
  [['scan', model, '--loops', 'x'], /^lmsanitator scan: option '--loops <n>' argument 'x' is invalid\. Expected an integer ≥ 1\./],
  [['scan', model, '--loops', '0'], /argument '0' is invalid\. Expected an integer ≥ 1\./],
  [['scan', model, '--lr', '-1'], /option '--lr <x>' argument '-1' is invalid\. Expected a number > 0\./],
  [['scan', model, '--batch-order', 'shuffled'], /Allowed choices are length, random, input\./],
  [['search', model, '--mode', 'nope'], /^lmsanitator search: option '--mode <mode>' argument 'nope' is invalid\. Allowed choices are cls, mask, token, pooler\./],
  [['search'], /^lmsanitator search: missing required argument 'model-dir'/],
  [['inspect'], /^lmsanitator inspect: missing required argument 'model-dir'/],
  [['inspect', model, '--nope'], /^lmsanitator inspect: unknown option '--nope'/],
  [['encode', model], /^lmsanitator encode: required option '--text <text>' not specified/],
  [['encode', model, '--text', 'hi', '--max-len', '1'], /option '--max-len <n>' argument '1' is invalid\. Expected an integer ≥ 2\./],
  [['encode', model, '--text', 'hi', '--max-length', '8'], /unknown option '--max-length'/],
  [['zoo', 'build'], /^lmsanitator zoo build: missing required argument 'name'/],
  [['zoo', 'build', 'bert-giant'], /unknown zoo model "bert-giant"; known: .*bert-micro/],
  [['zoo', 'build', 'bert-micro', '--steps', 'many'], /option '--steps <n>' argument 'many' is invalid/],
  [['zoo', 'build', 'clean-set', '--base', 'nope', '--count', '2'], /unknown --base "nope"/],
  [['zoo', 'list', 'extra'], /^lmsanitator zoo list: too many arguments/],
  [['pretrain'], /^lmsanitator pretrain: required option '--out <dir>' not specified/],
  [['pretrain', '--out', 'x', '--family', 'gpt'], /Allowed choices are bert, roberta, electra, albert, deberta, xlnet\./],
  [['finetune', model, '--out', 'x'], /^lmsanitator finetune: required option '--task <task>' not specified/],
  [['finetune', model, '--out', 'x', '--task', 'imdb'], /option '--task <task>' argument 'imdb' is invalid\. Allowed choices are sst2, ag-news, sms-spam, mlm\./],
  [['finetune', model, '--out', 'x', '--task', 'mlm', '--corpus', 'books'], /Allowed choices are wikitext, nlp-corpus-slice\./],
  [['attack', '/no/such/model', '--out', 'x', '--method', 'banana'], /option '--method <name>' argument 'banana' is invalid\. Allowed choices are por, por-ner, neuba, btop\./],
  [['attack', model, '--out', 'x'], /required option '--method <name>' not specified/],
  [['attack', model, '--method', 'por'], /required option '--out <dir>' not specified/],
  [['attack', model, '--method', 'por', '--out', 'x', '--batch-order', 'sorted'], /Allowed choices are length, random, input\./],
  [['attack', model, '--method', 'por', '--out', 'x', '--data', 'f.txt'], /unknown option '--data'/],
  [['demo', '--parallel', '-1'], /^lmsanitator demo: option '--parallel <k>' argument '-1' is invalid\. Expected an integer ≥ 0\./],
  [['eval', 'detection', '--methods', 'por,x'], /Not allowed: x; choose from por, neuba, btop, por-ner\./],
  [['eval', 'detection', '--base', 'bert-huge'], /option '--base <name>' argument 'bert-huge' is invalid/],
  [['eval', 'recall', 'a'], /^lmsanitator eval recall: missing required argument 'attacked-model-dir'/],
  [['data', 'check', '--bogus'], /^lmsanitator data check: unknown option '--bogus'/],
];

test('bad usage: exit 2, one line naming the problem and pointing at --help, nothing on stdout, no work done', () => {
  const cwd = tmpDir('usage-cwd');
  for (const [args, message] of BAD_USAGE) {
    const started = Date.now();
    const r = run(args, cwd);
    const what = `lmsanitator ${args.join(' ')}`;
    assert.equal(r.status, 2, `${what}: exit ${r.status}, stderr ${r.stderr}`);
    const lines = r.stderr.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `${what}: ${JSON.stringify(r.stderr)}`);
    assert.match(lines[0], message, what);
    assert.equal(r.stdout, '', what);
    assert.ok(Date.now() - started < 15_000, `${what}: fails before any work`);
  }
  assert.deepEqual(readdirSync(cwd), [], 'no usage error wrote anything');
});

test('usage lines that commander words itself also point at --help', () => {
  for (const args of [['scan', model, '--bogus'], ['zoo'], ['attack', model, '--out', 'x']]) {
    const r = run(args);
    assert.match(r.stderr.trim(), /\(see "lmsanitator [a-z ]+--help"\)$/, args.join(' '));
  }
});

test('every --help lists its exit codes; scan shows numbers as numbers and lists its choices', () => {
  const helps: string[][] = [[], ['scan'], ['search'], ['inspect'], ['encode'], ['zoo', 'list'], ['zoo', 'build'], ['pretrain'],
    ['finetune'], ['attack'], ['demo'], ['eval', 'detection'], ['eval', 'recall'], ['eval', 'prompt'], ['eval', 'victims'], ['data', 'check'], ['prompt-tune'], ['predict']];
  for (const cmd of helps) {
    const r = run([...cmd, '--help']);
    assert.equal(r.status, 0, cmd.join(' '));
    assert.match(r.stdout, /Exit codes:/, `${cmd.join(' ') || 'lmsanitator'} --help`);
    assert.match(r.stdout, /\b2\b.*(error|bad usage)/, cmd.join(' '));
  }
  const scan = run(['scan', '--help']).stdout.replace(/\s+/g, ' ');
  assert.match(scan, /--loops <n> maximum fuzz loops \(default: 30\)/);
  assert.match(scan, /\(choices: "cls", "mask", "token", "pooler", default: "cls"\)/);
  assert.match(scan, /0 clean: no PV found/);
  assert.match(scan, /1 backdoored/);
  assert.match(scan, /130 interrupted/);
  assert.match(scan, /default: <model-dir>\.scan, beside the model directory/);
  assert.match(run(['search', '--help']).stdout.replace(/\s+/g, ' '), /--loops <n> maximum fuzz loops \(default: 1000\)/);
  assert.match(run(['--version']).stdout, /^\d+\.\d+\.\d+/);
});

test('scan refuses an output directory holding an earlier run unless --resume or --force', () => {
  const sentences = sentencesFile();
  const out = join(tmpDir('scan-twice'), 'out');
  const args = ['scan', model, '--sentences', sentences, '--batch', '8', '--loops', '1', '--out', out, '--quiet'];
  assert.equal(run(args).status, 0);
  const again = run(args);
  assert.equal(again.status, 2);
  assert.match(again.stderr.trim(), /already holds a run \(journal\.jsonl, pvset\.safetensors, report\.json, report\.html\); pass --resume to continue it, --force to start over/);
  assert.equal(run([...args, '--force']).status, 0);
  assert.equal(run([...args, '--resume']).status, 0);
  const both = run([...args, '--resume', '--force']);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /--resume and --force contradict each other/);
  const nothing = run(['scan', model, '--sentences', sentences, '--batch', '8', '--loops', '1', '--out', join(out, 'fresh'), '--resume', '--quiet']);
  assert.equal(nothing.status, 2);
  assert.match(nothing.stderr, /nothing to resume/);
});

test('scan . inside a model directory writes <name>.scan beside it, not ..scan inside it', () => {
  const parent = tmpDir('dot-scan');
  const inside = join(parent, 'my-model');
  cpSync(model, inside, { recursive: true });
  const r = run(['scan', '.', '--sentences', sentencesFile(), '--batch', '8', '--loops', '1', '--quiet'], inside);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(join(parent, 'my-model.scan', 'report.json')));
  assert.ok(!existsSync(join(inside, '..scan')));
  assert.equal(basename(dirname(join(parent, 'my-model.scan', 'report.json'))), 'my-model.scan');
});

test('a clean verdict says what it means: the threshold beside the score, not a proof, what to try next', () => {
  const out = join(tmpDir('clean-words'), 'out');
  const r = run(['scan', model, '--sentences', sentencesFile(), '--batch', '8', '--loops', '1', '--out', out, '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /: CLEAN\n/);
  assert.match(r.stdout, /score \d\.\d{3} — a PV needs ≥ 1 with a collapsed batch/);
  assert.match(r.stdout, /1 fuzz loops at the cls position found no predefined vector\. That is evidence, not proof/);
  assert.match(r.stdout, /--mode mask \| token \| pooler/);
});
