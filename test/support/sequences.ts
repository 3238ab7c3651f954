/** Random frame sequences, parity runs and a small ResNet-style classifier for the delta-model tests. */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {randomizeWeights} from '../../data/models';
import {expectClose} from './util';

/** A random walk: ~15% of the pixels (all channels) get a new random offset each frame. */
export function nextFrame(previous: tf.Tensor | null, shape: number[], seed: number, t: number): tf.Tensor {
  return tf.tidy(() => {
    if (previous == null) return tf.randomUniform(shape, -1, 1, 'float32', seed);
    const moved = tf.less(tf.randomUniform(shape.slice(0, -1), 0, 1, 'float32', seed + 2 * t), 0.15);
    const step = tf.randomNormal(shape, 0, 0.5, 'float32', seed + 2 * t + 1);
    return tf.add(previous, tf.mul(step, tf.expandDims(tf.cast(moved, 'float32'), -1)));
  });
}

export function runParity(
  dense: tfl.LayersModel,
  delta: tfl.LayersModel,
  shapes: number[][],
  frames: number,
  seed: number,
  ctx: string,
  onFrame?: (t: number) => void,
  tolerance = 1e-5,
): void {
  let xs: tf.Tensor[] | null = null;
  for (let t = 0; t < frames; t++) {
    const next = shapes.map((s, i) => nextFrame(xs?.[i] ?? null, s, seed + 1000 * i, t));
    tf.dispose(xs ?? []);
    xs = next;
    tf.tidy(() => {
      const want = dense.predictOnBatch(xs!.length === 1 ? xs![0] : xs!) as tf.Tensor;
      const got = delta.predictOnBatch(xs!.length === 1 ? xs![0] : xs!) as tf.Tensor;
      expectClose(got, want, `${ctx} frame ${t}`, tolerance, tolerance);
    });
    onFrame?.(t);
  }
  tf.dispose(xs ?? []);
}

/**
 * A small ResNet-style classifier: conv-BN-ReLU stem with max pooling, basic residual blocks
 * (conv-BN-ReLU-conv-BN + add + ReLU; a strided one with a 1x1 projection), global average
 * pooling and a dense head. Random weights from `seed`, BN statistics included.
 */
export function resnetStyle(
  seed: number,
  inputShape: Array<number | null> = [null, null, 3],
  width = 16,
): tfl.LayersModel {
  const L = tfl.layers;
  const apply = (layer: tfl.layers.Layer, x: tfl.SymbolicTensor | tfl.SymbolicTensor[]) =>
    layer.apply(x) as tfl.SymbolicTensor;
  const convBn = (x: tfl.SymbolicTensor, filters: number, kernelSize: number, strides: number, name: string) =>
    apply(
      L.batchNormalization({name: `${name}_bn`}),
      apply(L.conv2d({filters, kernelSize, strides, padding: 'same', useBias: false, name}), x),
    );
  const block = (x: tfl.SymbolicTensor, filters: number, strides: number, name: string) => {
    let y = apply(L.reLU({name: `${name}_relu1`}), convBn(x, filters, 3, strides, `${name}_conv1`));
    y = convBn(y, filters, 3, 1, `${name}_conv2`);
    const shortcut = strides === 1 ? x : convBn(x, filters, 1, strides, `${name}_proj`);
    return apply(L.reLU({name: `${name}_relu2`}), apply(L.add({name: `${name}_add`}), [y, shortcut]));
  };
  const input = tfl.input({shape: inputShape, name: 'frames'});
  let x = apply(L.reLU({name: 'stem_relu'}), convBn(input, width, 3, 2, 'stem_conv'));
  x = apply(L.maxPooling2d({poolSize: 2, name: 'stem_pool'}), x);
  x = block(x, width, 1, 'block1');
  x = block(x, width, 1, 'block2');
  x = block(x, 2 * width, 2, 'block3');
  x = apply(L.globalAveragePooling2d({name: 'pool'}), x);
  const logits = apply(L.dense({units: 10, name: 'logits'}), x);
  const model = tfl.model({inputs: input, outputs: logits, name: 'resnet_style'});
  randomizeWeights(model, seed);
  return model;
}
