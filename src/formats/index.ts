/**
 * Model checkpoint formats: safetensors and PyTorch zip checkpoints in,
 * safetensors out, Hugging Face config.json both ways. Everything that can go
 * wrong with a file is reported as a one-line FormatError naming it.
 */
export type { NamedTensor, StateDict } from './state-dict.js';
export { FormatError } from './errors.js';
export { openModelDir, ModelDir, CONFIG_FILE } from './model-dir.js';
export {
  loadSafetensors, readSafetensors, readSafetensorsHeader, saveSafetensors, serializeSafetensors,
  type SafetensorsContents, type SafetensorsHeader, type SafetensorsEntry,
} from './safetensors.js';
export { loadTorchCheckpoint, readTorchCheckpoint } from './torch-checkpoint.js';
export {
  loadStateDict, loadCheckpoint, resolveCheckpointFiles, modelHash, WEIGHT_FILES,
  type CheckpointFiles, type CheckpointFormat, type LoadedCheckpoint,
} from './checkpoint.js';
export {
  loadEncoderConfig, parseEncoderConfig, parseEncoderConfigText, createEncoderConfig, configToJson, saveEncoderConfig,
  parameterCount, CONFIG_LIMITS, SUPPORTED_MODEL_TYPES,
  type EncoderConfig, type EncoderModelType, type SourceModelType,
} from './hf-config.js';
