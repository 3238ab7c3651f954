/** Scalar definitions of the activations the delta ops accept, shared by the reference kernels. */
import type {Activation} from '../ops/validation';

export function scalarActivation(activation: Activation, alpha: number): (v: number) => number {
  switch (activation) {
    case 'linear':
      return (v) => v;
    case 'relu':
      return (v) => (v > 0 ? v : 0);
    case 'relu6':
      return (v) => (v < 0 ? 0 : v > 6 ? 6 : v);
    case 'leakyRelu':
      return (v) => (v > 0 ? v : alpha * v);
    case 'sigmoid':
      return (v) => 1 / (1 + Math.exp(-v));
    case 'tanh':
      return (v) => Math.tanh(v);
    default:
      throw new Error(`unknown activation '${activation as string}'`);
  }
}
