/** The engine's public surface: tensors, the tape, ops, optimizers. */
export { Tensor, backward, backwardMany, sizeOf, shapeStr } from './tensor.js';
export { noGrad, isGradEnabled } from './tape.js';
export { withScope, persistent, poolStats, clearPool } from './memory.js';
export {
  backendName, setBackend, describeBackend, nativeAvailable, gemmCounters, resetGemmCounters,
  enableProfiling, disableProfiling, resetProfile, kernelTimes, setCheckFinite, firstNonFinite,
} from './backend.js';
export { linear, linearInOut } from './ops/linear.js';
export { attention, type AttentionOptions } from './ops/attention.js';
export { layerNorm } from './ops/norm.js';
export { gelu, geluTanh, relu, tanh } from './ops/activation.js';
export { embedding, gatherRows, spliceRows } from './ops/embedding.js';
export { softmaxMix } from './ops/mixture.js';
export { add, addBias, scale, scaleRows, dropout } from './ops/elementwise.js';
export { headDot, relativeGather, type RelativeGatherOptions } from './ops/relative.js';
export { addLayerNorm, linearGelu } from './ops/fused.js';
export { reshape, permute, transpose2d, concatSeq, sliceSeq, expandBatch, unfoldSeq } from './ops/shape.js';
export { sum, mean, mse, logSoftmax, crossEntropy, entropy, weightedSum } from './ops/loss.js';
export { Adam, SGD, clipGradNorm, maxAbsGrad, type AdamOptions } from './optim.js';
