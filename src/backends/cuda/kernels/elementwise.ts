/** Elementwise kernels: unary activations, broadcasting binary ops, AddN, Prelu, the fused bias+activation. */
import {backend_util, TensorInfo} from '@tensorflow/tfjs-core';

import {CudaBackend} from '../backend';
import {BinaryOp, DTypeCode, Ptr, UnaryOp} from '../native';
import {broadcastStrides, isSuffixShape, MAX_RANK, registerCuda, requireFloat, sizeOf, unsupported} from './util';

const unaryKernels: Array<[string, number]> = [
  ['Relu', UnaryOp.relu],
  ['Relu6', UnaryOp.relu6],
  ['LeakyRelu', UnaryOp.leakyrelu],
  ['Sigmoid', UnaryOp.sigmoid],
  ['Tanh', UnaryOp.tanh],
  ['Elu', UnaryOp.elu],
  ['Exp', UnaryOp.exp],
  ['Neg', UnaryOp.neg],
  ['Abs', UnaryOp.abs],
  ['Sqrt', UnaryOp.sqrt],
  ['Rsqrt', UnaryOp.rsqrt],
  ['Square', UnaryOp.square],
  ['Log', UnaryOp.log],
  ['Floor', UnaryOp.floor],
  ['Ceil', UnaryOp.ceil],
  ['Reciprocal', UnaryOp.reciprocal],
  ['Selu', UnaryOp.selu],
  ['Softplus', UnaryOp.softplus],
  ['Round', UnaryOp.round],
  ['Sign', UnaryOp.sign],
  ['Step', UnaryOp.step],
];

/**
 * Under half storage (an fp16 compiled stream's frame) a half-stored input gives a half-stored output (computed in
 * float). Elsewhere the output is float32, as the tensor's dtype says: a half-stored input (half delta state, an fp16
 * stream's output) is read through a float32 copy made for the call.
 */
export function unary(backend: CudaBackend, op: number, x: TensorInfo, alpha = 0): TensorInfo {
  const half = backend.halfStorage && backend.isHalf(x);
  const out = backend.makeOutput(x.shape, 'float32', half);
  const temps: TensorInfo[] = [];
  try {
    const px = half ? backend.storedPtr(x) : backend.floatPtr(x, temps);
    backend.n.unary({op, x: px, y: backend.storedPtr(out), n: sizeOf(x.shape), alpha, half});
  } finally {
    temps.forEach((t) => backend.disposeIntermediate(t));
  }
  return out;
}

const binaryKernels: Array<[string, number, boolean]> = [
  // name, op, int32 allowed
  ['Add', BinaryOp.add, true],
  ['Sub', BinaryOp.sub, true],
  ['Multiply', BinaryOp.mul, true],
  ['RealDiv', BinaryOp.div, false],
  ['Maximum', BinaryOp.max, true],
  ['Minimum', BinaryOp.min, true],
  ['SquaredDifference', BinaryOp.sqdiff, false],
  ['Pow', BinaryOp.pow, false],
  ['Prelu', BinaryOp.prelu, false],
];

/**
 * out = a (op) b with numpy broadcasting; `into` reuses a buffer of the output's shape (may alias a). Under half
 * storage, float operands of which one is half-stored give a half-stored output (the other is converted for the
 * call); elsewhere the output is float32 and half-stored operands are read through float32 copies made for the call.
 */
export function binary(backend: CudaBackend, op: number, a: TensorInfo, b: TensorInfo, into?: TensorInfo): TensorInfo {
  const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  if (outShape.length > MAX_RANK) unsupported(`rank ${outShape.length} broadcasting`);
  const half = into
    ? backend.isHalf(into)
    : backend.halfStorage && a.dtype === 'float32' && (backend.isHalf(a) || backend.isHalf(b));
  const out = into ?? backend.makeOutput(outShape, a.dtype, half);
  const temps: TensorInfo[] = [];
  try {
    const [pa, pb] = half
      ? [backend.halfPtr(a, temps), backend.halfPtr(b, temps)]
      : [backend.floatPtr(a, temps), backend.floatPtr(b, temps)];
    backend.n.binary({
      op,
      dtype: half ? DTypeCode.float16 : backend.dtypeCode(a.dtype),
      a: pa,
      b: pb,
      out: backend.storedPtr(out),
      outShape,
      aStrides: broadcastStrides(a.shape, outShape),
      bStrides: broadcastStrides(b.shape, outShape),
    });
  } finally {
    temps.forEach((t) => backend.disposeIntermediate(t));
  }
  return out;
}

/** tfjs's default alpha of the fused 'leakyrelu' activation. */
export const LEAKY_RELU_ALPHA = 0.2;

/** tfjs's fused activations (not 'prelu') as UnaryOp codes. */
export const activationOps: {[k: string]: number} = {
  linear: UnaryOp.linear,
  relu: UnaryOp.relu,
  relu6: UnaryOp.relu6,
  leakyrelu: UnaryOp.leakyrelu,
  sigmoid: UnaryOp.sigmoid,
  elu: UnaryOp.elu,
  tanh: UnaryOp.tanh,
};

/**
 * In place: y = activation(y + bias), as tfjs fused ops (conv, matmul) apply them (y may be half-stored). One pass when bias and prelu
 * weights broadcast along trailing dims (the usual per-channel case), otherwise broadcasting binary kernels.
 */
export function applyBiasActivation(
  backend: CudaBackend,
  y: TensorInfo,
  bias: TensorInfo | undefined,
  activation = 'linear',
  prelu?: TensorInfo,
  leakyAlpha = LEAKY_RELU_ALPHA,
): void {
  activation = activation || 'linear';
  const act = activationOps[activation];
  if (act === undefined && activation !== 'prelu') unsupported(`fused activation ${activation}`);
  requireFloat('fused bias/activation', bias, prelu);
  if (activation !== 'prelu') prelu = undefined; // as tfjs: the weights count for the 'prelu' activation only
  const n = sizeOf(y.shape);
  const biasFlat = !bias || isSuffixShape(bias.shape, y.shape);
  const preluFlat = !prelu || isSuffixShape(prelu.shape, y.shape);
  if (bias && !biasFlat) binary(backend, BinaryOp.add, y, bias, y);
  if (prelu && !preluFlat) binary(backend, BinaryOp.prelu, y, prelu, y);
  const b = bias && biasFlat ? bias : undefined,
    p = prelu && preluFlat ? prelu : undefined;
  if (!b && !p && (activation === 'linear' || activation === 'prelu')) return;
  const ptrOr0 = (t?: TensorInfo): Ptr => (t ? backend.ptr(t) : 0);
  backend.n.biasAct({
    y: backend.storedPtr(y),
    n,
    bias: ptrOr0(b),
    biasLen: b ? sizeOf(b.shape) : 1,
    act: activation === 'prelu' ? UnaryOp.linear : act,
    alpha: leakyAlpha,
    prelu: ptrOr0(p),
    preluLen: p ? sizeOf(p.shape) : 1,
    half: backend.isHalf(y),
  });
}

export function registerElementwiseKernels(): void {
  for (const [name, op] of unaryKernels) {
    registerCuda(name, ({inputs, backend, attrs}) => {
      requireFloat(name, inputs.x);
      return unary(backend, op, inputs.x, (attrs.alpha as number) ?? 0);
    });
  }
  for (const [name, op, intOk] of binaryKernels) {
    registerCuda(name, ({inputs, backend}) => {
      const a = inputs.a ?? inputs.x,
        b = inputs.b ?? inputs.alpha;
      if (a.dtype !== b.dtype) unsupported(`${a.dtype} with ${b.dtype}`);
      if (!(a.dtype === 'float32' || (intOk && a.dtype === 'int32'))) unsupported(`${name} on ${a.dtype}`);
      return binary(backend, op, a, b);
    });
  }
  registerCuda('AddN', ({inputs, backend}) => {
    const ts = Object.values(inputs) as unknown as TensorInfo[];
    const list = (Array.isArray(ts[0]) ? ts[0] : ts) as TensorInfo[];
    if (!list.every((t) => t.dtype === list[0].dtype && (t.dtype === 'float32' || t.dtype === 'int32')))
      unsupported('mixed or non-numeric dtypes');
    if (list.length === 1) {
      backend.incRef(list[0].dataId);
      return {dataId: list[0].dataId, shape: list[0].shape, dtype: list[0].dtype};
    }
    const out = binary(backend, BinaryOp.add, list[0], list[1]);
    for (let i = 2; i < list.length; i++) binary(backend, BinaryOp.add, out, list[i], out);
    return out;
  });
}
