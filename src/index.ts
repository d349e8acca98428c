/**
 * The library API: `import { scan, loadModel, loadPvSet } from "lmsanitator"`.
 * The CLI (src/cli/) is a thin layer over these same functions.
 */
export { loadModel, saveModel, type LoadedModel } from './models/model.js';
export { scan, search, defaultOutDir, SCAN_DEFAULTS, type ScanOptions, type ScanModelResult as ScanResult } from './eval/scan-model.js';
export type { ScanOutputs } from './eval/scan-outputs.js';
export type { ScanReport } from './eval/report.js';
export type { DriverResult, FoundPv, LoopRecord } from './sanitizer/scan.js';
export { loadPvSet, savePvSet, type PvSet } from './sanitizer/pvset.js';
export { TARGET_MODES, type TargetMode } from './sanitizer/target.js';
export { runAttack, type AttackOutcome } from './attacks/attack.js';
export type { AttackOptions } from './attacks/settings.js';
export { TextTokenizer } from './text/tokenizer.js';
export {
  promptTune, loadPrompt, savePrompt, loadPeft, savePeft, predictBatch, evaluatePrompt, loadPromptTask, PROMPT_METHODS, PROMPT_TASKS,
  type PromptModel, type PromptMethod, type PromptTask, type PromptTuneOptions, type PromptTuneResult, type Prediction,
} from './prompt/index.js';
export { attackSuccess, withTrigger, type AsrResult } from './eval/asr.js';
export { evaluateVictims, type VictimsOptions } from './eval/victims.js';
export { MATCH_THRESHOLD, SignMonitor, type MonitorMatch } from './sanitizer/monitor.js';
export { purge, purgeMany, type GuardInput, type PurgeResult } from './sanitizer/purge.js';
export { Guard, GUARD_DEFAULTS, monitorFor, requiredMode, type GuardOptions, type GuardResult, type GuardAction } from './guard/guard.js';
export { measureGuard, type GuardFigures } from './eval/guarded.js';
export { evaluateGuard, type GuardEvalOptions, type GuardEvalReport } from './eval/guard-eval.js';
export { onionPurify, pseudoPerplexity } from './eval/onion.js';
