/**
 * The output directory of `scan` and `search`: pvset.safetensors (for the
 * guard), report.json (for scripts) and report.html (for people). Each file
 * is written to a temporary name and renamed, so a crash or Ctrl-C during
 * writing leaves the previous complete file, never a torn one.
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errText, writeJsonAtomic, writeTextFileAtomic } from '../formats/file-io.js';
import { buildPcaView, buildScanReport, hyperParameters, toolVersion, type ScanReport, type ScanReportInput, type TargetInfo } from './report.js';
import { renderReportHtml } from './report-html.js';
import { savePvSet } from '../sanitizer/pvset.js';
import type { ScanTarget } from '../sanitizer/target.js';

export const PVSET_FILE = 'pvset.safetensors';
export const REPORT_JSON_FILE = 'report.json';
export const REPORT_HTML_FILE = 'report.html';

export type ScanOutputsInput = ScanReportInput;

export interface ScanOutputs {
  pvset: string;
  reportJson: string;
  reportHtml: string;
  /** What report.json holds (for `--json`). */
  report: ScanReport;
}

/** TargetInfo from the scanner's model adapter. */
export function targetInfoOf(target: ScanTarget, modelDir: string): TargetInfo {
  return { modelDir, modelHash: target.modelHash, hidden: target.hidden, embedDim: target.wordEmbeddings.shape[1] };
}

export function writeScanOutputs(outDir: string, input: ScanOutputsInput): ScanOutputs {
  ensureWritableDir(outDir);
  const { driverResult: r, data, target } = input;
  const created = input.created ?? new Date();
  const pca = buildPcaView(data, target.hidden, r.pvs);
  const report = buildScanReport({ ...input, created }, pca?.summary ?? null);

  const paths = { pvset: join(outDir, PVSET_FILE), reportJson: join(outDir, REPORT_JSON_FILE), reportHtml: join(outDir, REPORT_HTML_FILE) };
  const write = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      throw new Error(`cannot write ${what} to output directory ${outDir}: ${(e as Error).message}`);
    }
  };
  write(PVSET_FILE, () => savePvSet(paths.pvset, {
    modelHash: target.modelHash,
    modelDir: target.modelDir,
    mode: data.options.mode,
    hidden: target.hidden,
    promptLen: data.options.promptLen,
    embedDim: target.embedDim,
    hyperParameters: hyperParameters(input.settings, data),
    command: input.command,
    created: report.created,
    toolVersion: toolVersion(),
    pvs: r.pvs.map((p) => p.vector),
    prompts: r.pvs.map((p) => p.prompt),
    seeds: r.pvs.map((p) => p.seed),
  }));
  write(REPORT_JSON_FILE, () => writeJsonAtomic(paths.reportJson, report));
  write(REPORT_HTML_FILE, () => writeTextFileAtomic(paths.reportHtml, renderReportHtml({ report, pca })));
  return { ...paths, report };
}


/** Fails before any work with one line naming the directory, rather than per file halfway through. */
function ensureWritableDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw new Error(`cannot write to output directory ${dir}: ${errText(e)}`);
  }
}
