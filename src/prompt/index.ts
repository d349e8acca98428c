/** The prompt methods' public surface: what the CLI commands and the guard call. */
export { PROMPT_TASKS, type PromptTask, type PromptTaskData, type TaskKind, isPromptTask, loadPromptTask, taskKind, taskLabelNames, stratifiedSplit } from './tasks.js';
export { TEMPLATES, type TemplateSpec, displayTemplate, parseTemplate, encodeTemplate, verbalizerIds } from './templates.js';
export {
  PROMPT_METHODS, type PromptMethod, type PromptModel, type PromptInput, type PromptExample, type PromptRow, type PromptBatch,
  type PromptForward, type PromptInfo, type BackboneShape, padRows, backboneShape, freezeBackbone,
} from './model.js';
export { PTuningModel, type PTuningOptions } from './ptuning.js';
export { PrefixTuningModel, type PrefixTuningOptions } from './ptuning-v2.js';
export { type ReparamInfo } from './reparam.js';
export { PROMPT_DEFAULTS, type PromptTuneOptions, type PromptTuneRecord, type PromptTuneResult, createPromptModel, promptLoss, promptTune } from './train.js';
export { type Prediction, type LabelPrediction, type TagPrediction, type PromptEval, evaluatePrompt, forEachBatch, predictBatch } from './predict.js';
export { type LoadedPrompt, PROMPT_JSON, PROMPT_TENSORS, loadPrompt, promptJson, savePrompt } from './artefact.js';
export { type LoadedPeft, type LoadPeftOptions, ADAPTER_CONFIG, ADAPTER_WEIGHTS, adapterConfig, loadPeft, savePeft } from './peft.js';
export { type ClassificationMetrics, type SeqevalScores, accuracy, classificationMetrics, getEntities, macroF1, seqevalF1, seqevalScores } from './metrics.js';
