/**
 * Argument checks shared by the ops. Every failure throws an Error whose message starts with the
 * op name, names the argument, and shows the offending shape or value, e.g.
 *   deltaConv2d: argument 'filter' must have 4 input channels to match 'x' [1,8,8,4], got [3,3,5,8]
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Tensor, TensorLike} from '@tensorflow/tfjs-core';

export type Activation = 'linear' | 'relu' | 'relu6' | 'leakyRelu' | 'sigmoid' | 'tanh';
export const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'relu6', 'leakyRelu', 'sigmoid', 'tanh'];

export type PadSpec2D =
  'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
export type DimRoundingMode = 'floor' | 'round' | 'ceil';

export function fail(op: string, arg: string, message: string): never {
  throw new Error(`${op}: argument '${arg}' ${message}`);
}

function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Converts a tensor-like argument to a float32 tensor, naming op and argument on failure. */
export function toFloatTensor(op: string, arg: string, value: Tensor | TensorLike): Tensor {
  if (value == null) fail(op, arg, 'is required, got ' + String(value));
  const t = value instanceof tf.Tensor ? value : tf.tensor(value as TensorLike);
  if (t.dtype !== 'float32') fail(op, arg, `must be float32, got ${t.dtype} of shape ${shapeStr(t.shape)}`);
  if (t.isDisposed) fail(op, arg, 'is disposed');
  return t;
}

export function checkRank(op: string, arg: string, t: Tensor, rank: number, layout: string): void {
  if (t.rank !== rank) {
    fail(op, arg, `must be rank ${rank} (${layout}), got rank ${t.rank} of shape ${shapeStr(t.shape)}`);
  }
}

export function checkSameShape(op: string, arg: string, t: Tensor, refArg: string, ref: Tensor): void {
  if (!tf.util.arraysEqual(t.shape, ref.shape)) {
    fail(op, arg, `must have the shape of '${refArg}' ${shapeStr(ref.shape)}, got ${shapeStr(t.shape)}`);
  }
}

export function checkNonEmpty(op: string, arg: string, t: Tensor): void {
  if (t.size === 0) fail(op, arg, `must not be empty, got shape ${shapeStr(t.shape)}`);
}

/** Expands a number or tuple into `n` positive integers. */
export function positiveInts(op: string, arg: string, value: number | readonly number[], n: number): number[] {
  const values = typeof value === 'number' ? new Array(n).fill(value) : Array.from(value ?? []);
  if (values.length !== n || !values.every((v) => Number.isInteger(v) && v > 0)) {
    fail(op, arg, `must be a positive integer or ${n} positive integers, got ${JSON.stringify(value)}`);
  }
  return values;
}

/** Validates a tf.conv2d-style pad ('same' | 'valid' | number | explicit NHWC pairs). */
export function checkPad2D(op: string, pad: unknown, dimRoundingMode?: DimRoundingMode): void {
  if (pad === 'same' || pad === 'valid') {
    if (dimRoundingMode != null) {
      fail(op, 'dimRoundingMode', `is only allowed with a numeric pad, got pad '${pad}'`);
    }
  } else if (typeof pad === 'number') {
    if (!Number.isInteger(pad) || pad < 0) fail(op, 'pad', `must be a non-negative integer, got ${pad}`);
  } else if (Array.isArray(pad)) {
    const ok =
      pad.length === 4 &&
      pad.every((p) => Array.isArray(p) && p.length === 2 && p.every((v) => Number.isInteger(v) && v >= 0));
    if (!ok || pad[0][0] !== 0 || pad[0][1] !== 0 || pad[3][0] !== 0 || pad[3][1] !== 0) {
      fail(
        op,
        'pad',
        `explicit padding must be [[0,0],[top,bottom],[left,right],[0,0]] of ` +
          `non-negative integers, got ${JSON.stringify(pad)}`,
      );
    }
  } else {
    fail(op, 'pad', `must be 'same', 'valid', a non-negative integer or explicit padding, got ${JSON.stringify(pad)}`);
  }
  if (dimRoundingMode != null && !['floor', 'round', 'ceil'].includes(dimRoundingMode)) {
    fail(op, 'dimRoundingMode', `must be 'floor', 'round' or 'ceil', got ${JSON.stringify(dimRoundingMode)}`);
  }
}

export function checkDataFormat(op: string, dataFormat: string | undefined, expected: string): void {
  if (dataFormat != null && dataFormat !== expected) {
    fail(op, 'dataFormat', `must be '${expected}' (the only layout delta ops support), got '${dataFormat}'`);
  }
}

/** A delta op's per-pixel threshold: a finite number >= 0. */
export function checkThreshold(op: string, threshold: unknown): void {
  if (typeof threshold !== 'number' || !(threshold >= 0) || !Number.isFinite(threshold)) {
    fail(op, 'threshold', `must be a finite number >= 0, got ${JSON.stringify(threshold)}`);
  }
}

/** A boolean option (e.g. inPlace). */
export function checkBoolean(op: string, arg: string, value: unknown): void {
  if (typeof value !== 'boolean') fail(op, arg, `must be a boolean, got ${JSON.stringify(value)}`);
}

/** An option with a fixed set of string values. */
export function checkOneOf(op: string, arg: string, value: unknown, allowed: readonly string[]): void {
  if (!allowed.includes(value as string)) {
    fail(op, arg, `must be one of ${allowed.map((v) => `'${v}'`).join(', ')}, got ${JSON.stringify(value)}`);
  }
}

export function checkActivation(op: string, activation: unknown, alpha: unknown): void {
  if (!ACTIVATIONS.includes(activation as Activation)) {
    fail(op, 'activation', `must be one of ${ACTIVATIONS.join('|')}, got ${JSON.stringify(activation)}`);
  }
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) {
    fail(op, 'alpha', `must be a finite number, got ${JSON.stringify(alpha)}`);
  }
}

/** Output spatial sizes must be positive; otherwise the input is too small for the window. */
export function checkOutputSize(op: string, inShape: readonly number[], outSizes: number[]): void {
  if (outSizes.some((s) => !(s > 0))) {
    fail(
      op,
      'x',
      `of shape ${shapeStr(inShape)} is too small for the window, strides and pad: ` +
        `output spatial size would be ${shapeStr(outSizes)}`,
    );
  }
}

export {shapeStr};
