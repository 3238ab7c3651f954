/**
 * IEEE half-precision rounding on the host, for the reference kernels of half-precision delta state: round to nearest,
 * ties to even, as CUDA's __float2half_rn and numpy's float16 (values beyond half's range become infinities).
 */

const word = new Float32Array(1);
const bits = new Uint32Array(word.buffer);

/** float32 `x` rounded to the nearest IEEE half, returned as a number (exactly representable in float32). */
export function halfRound(x: number): number {
  word[0] = x;
  const sign = bits[0] & 0x80000000;
  let abs = bits[0] & 0x7fffffff;
  if (abs > 0x7f800000) return word[0]; // NaN
  if (abs >= 0x477ff000) return sign ? -Infinity : Infinity; // 65520 and above
  if (abs >= 0x38800000) {
    // A normal half keeps 10 of the 23 mantissa bits.
    abs += 0xfff + ((abs >>> 13) & 1);
    bits[0] = (sign | (abs & 0xffffe000)) >>> 0;
    return word[0];
  }
  // Below 2^-14, halves are steps of 2^-24 (subnormals).
  const steps = Math.abs(word[0]) * 2 ** 24;
  let f = Math.floor(steps);
  if (steps - f > 0.5 || (steps - f === 0.5 && f % 2 === 1)) f++;
  return (sign ? -f : f) * 2 ** -24;
}

/** Every element of `values` rounded to IEEE half (into `out`, which may be `values`). */
export function roundToHalf(values: Float32Array, out = new Float32Array(values.length)): Float32Array {
  for (let i = 0; i < values.length; i++) out[i] = halfRound(values[i]);
  return out;
}
