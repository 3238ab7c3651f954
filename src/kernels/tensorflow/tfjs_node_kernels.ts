/**
 * tfjs-node's own kernels that tfjs-delta replaces on 'tensorflow', where TensorFlow's oneDNN kernels fail on CPUs
 * with AVX-512 BF16: 1x1 convolutions as MatMul (PointwiseConv.ts: they can end the process with SIGFPE) and
 * transposed convolutions as forward convolutions by phase (TransposedConv.ts: wrong output channels).
 */
import {pointwiseConvsAsMatMul} from './PointwiseConv';
import {transposedConvsByPhases} from './TransposedConv';

/**
 * Wraps those tfjs-node kernels. Call it after '@tensorflow/tfjs-node' is loaded (tfjs-delta does at import when it
 * already is, and its CLI after loading it); again is harmless. Returns whether tfjs-node's kernels were found.
 */
export function wrapTfjsNodeKernels(): boolean {
  const pointwise = pointwiseConvsAsMatMul();
  const transposed = transposedConvsByPhases();
  return pointwise && transposed;
}

/** Loads '@tensorflow/tfjs-node' (an optional peer dependency; throws where it is not installed) and wraps its kernels. */
export function loadTfjsNode(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-node');
  wrapTfjsNodeKernels();
}
