/**
 * The truncating accumulator on host arrays: the 'cpu' kernel, and the 'tensorflow' kernel's half-precision state.
 * See ops/sparse_accumulate.ts for the semantics. With half state (statePrecision 'fp16') the state is rounded to
 * IEEE half where it is read and written, and a flush emits f(stored new A) - f(stored old A), so that the emitted
 * deltas telescope to f of what is stored (docs/delta-kernels.md, "Half-precision state"):
 *   s = R + d (float32);  sum = A + s;  next = half(sum);  out = f(next) - f(A)
 *   flushed: A' = next, R' = half(sum - next);  held: R' = half(s)
 */
import type {SparseAccumulateAttrs} from '../ops/kernel_names';
import {scalarActivation} from './activations';
import {halfRound, roundToHalf} from './half';

export interface AccumulateResult {
  delta: Float32Array;
  /** The emitted delta's per-pixel flags. */
  mask: Uint8Array;
  accumulated: Float32Array;
  residual: Float32Array;
}

/** `inMask`: the delta's per-pixel flags (null: every pixel active); `channels`: the last dimension. */
export function accumulateOnHost(
  a: Float32Array,
  r: Float32Array,
  d: Float32Array,
  inMask: Uint8Array | null,
  channels: number,
  {threshold, activation, alpha, statePrecision = 'fp32'}: SparseAccumulateAttrs,
): AccumulateResult {
  const f = scalarActivation(activation, alpha);
  const half = statePrecision === 'fp16';
  const C = channels;
  const pixels = d.length / C;
  const outDelta = new Float32Array(d.length);
  const outAcc = half ? roundToHalf(a) : Float32Array.from(a);
  const outRes = half ? roundToHalf(r) : Float32Array.from(r);
  const outMask = new Uint8Array(pixels);
  const s = new Float32Array(C);
  const sum = new Float32Array(C);
  const next = new Float32Array(C);
  const emitted = new Float32Array(C);
  for (let p = 0; p < pixels; p++) {
    if (inMask != null && !inMask[p]) continue;
    const o = p * C;
    let largest = 0;
    for (let c = 0; c < C; c++) {
      const old = outAcc[o + c]; // the state as stored (rounded on entry with half state)
      s[c] = outRes[o + c] + d[o + c];
      sum[c] = old + s[c];
      next[c] = half ? halfRound(sum[c]) : sum[c];
      // f(new) - f(old) of the values stored, so that emitted deltas telescope.
      emitted[c] = f(next[c]) - f(old);
      largest = Math.max(largest, Math.abs(emitted[c]));
    }
    if (largest > threshold) {
      outMask[p] = 1;
      for (let c = 0; c < C; c++) {
        outDelta[o + c] = emitted[c];
        outAcc[o + c] = next[c];
        outRes[o + c] = half ? halfRound(Math.fround(sum[c] - next[c])) : 0;
      }
    } else {
      for (let c = 0; c < C; c++) outRes[o + c] = half ? halfRound(s[c]) : s[c];
    }
  }
  return {delta: outDelta, mask: outMask, accumulated: outAcc, residual: outRes};
}
