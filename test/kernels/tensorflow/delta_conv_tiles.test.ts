/**
 * The tile route of the 'tensorflow' delta convolutions (gather the active tiles' input patches,
 * convolve them 'valid', scatter into a zero output) against the 'cpu' reference kernels (values,
 * masks, exact zeros at inactive pixels) and the dense tfjs op, on fresh random inputs and fresh
 * random masks: one active tile, the corners, a border strip, scattered pixels, nothing and
 * everything active; odd sizes, strides 1 and 2, 'same'/'valid'/numeric/explicit pads, dilation,
 * batch > 1, and tile sides that do and do not divide the output. The same for tfjs-delta's native ops (depthwise and
 * pointwise convs, and regular convs of fewer than 8 input channels: TF's conv with the native reach). Then
 * the routing: a delta model whose convolutions take every route over one sequence still
 * equals the dense model at threshold 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {deltaConv2d, deltaDepthwiseConv2d, getMask, toDelta, withMask} from '../../../src/index';
import type {PadSpec2D} from '../../../src/index';
import {
  deltaConvRouteCounts,
  lastDeltaConvCall,
  NATIVE_DENSE_BELOW_CHANNELS,
  setTensorflowDeltaConvOptions,
} from '../../../src/kernels/tensorflow/delta_conv_impl';
import {tensorflowNativeOps} from '../../../src/kernels/tensorflow/native_ops';
import {randomizeWeights} from '../../../data/models';
import {NodeBackend, TfOps} from '../../../src/kernels/tensorflow/tf_ops';
import {describeIfBackend, describeNativeTensorflowOps, runSuiteOn} from '../../support/backends';
import {denseConv2d} from '../../support/dense_reference';
import {expectClose, freshSeed, seededInt, seededRandom} from '../../support/util';

const MASK_KINDS = ['one tile', 'corners', 'border strip', 'scattered pixels', 'all inactive', 'all active'] as const;
type MaskKind = (typeof MASK_KINDS)[number];

/** One flag per pixel of [b, h, w]; `block` is the side of the 'one tile' block. */
function hostMask(kind: MaskKind, b: number, h: number, w: number, block: number, next: () => number): Uint8Array {
  const m = new Uint8Array(b * h * w);
  const set = (bi: number, y: number, x: number) => {
    if (y >= 0 && y < h && x >= 0 && x < w) m[(bi * h + y) * w + x] = 1;
  };
  const int = (n: number) => Math.floor(next() * n);
  for (let bi = 0; bi < b; bi++) {
    switch (kind) {
      case 'one tile': {
        if (bi !== int(b)) break;
        const [y0, x0] = [int(h) - (block >> 1), int(w) - (block >> 1)];
        for (let y = y0; y < y0 + block; y++) for (let x = x0; x < x0 + block; x++) set(bi, y, x);
        break;
      }
      case 'corners':
        for (const [y, x] of [
          [0, 0],
          [0, w - 1],
          [h - 1, 0],
          [h - 1, w - 1],
        ])
          if (next() < 0.7) set(bi, y, x);
        break;
      case 'border strip': {
        const side = int(4);
        const depth = 1 + int(2);
        for (let i = 0; i < Math.max(h, w); i++) {
          for (let d = 0; d < depth; d++) {
            if (side === 0) set(bi, d, i);
            else if (side === 1) set(bi, h - 1 - d, i);
            else if (side === 2) set(bi, i, d);
            else set(bi, i, w - 1 - d);
          }
        }
        break;
      }
      case 'scattered pixels':
        for (let p = 0; p < h * w; p++) if (next() < 0.04) m[bi * h * w + p] = 1;
        break;
      case 'all inactive':
        break;
      case 'all active':
        m.fill(1, bi * h * w, (bi + 1) * h * w);
        break;
    }
  }
  return m;
}

interface Host {
  shape: number[];
  values: Float32Array;
  mask?: Uint8Array;
}

function hostValues(shape: number[], next: () => number, scale = 1, mask?: Uint8Array): Host {
  const values = Float32Array.from({length: shape.reduce((a, b) => a * b, 1)}, () => (next() * 2 - 1) * scale);
  if (mask != null) {
    const c = shape[shape.length - 1];
    mask.forEach((on, p) => {
      if (!on) values.fill(0, p * c, (p + 1) * c);
    });
  }
  return {shape, values, mask};
}

function materialize(h: Host): tf.Tensor {
  const t = tf.tensor(h.values, h.shape, 'float32');
  if (h.mask == null) return t;
  return tf.tidy(() => withMask(t, tf.tensor(h.mask!, h.shape.slice(0, -1), 'bool')));
}

const tensor4d = (h: Host) => tf.tensor4d(h.values, h.shape as [number, number, number, number]);

interface Result {
  shape: number[];
  values: Float32Array;
  mask: Uint8Array;
}

function onBackend(backend: string, fn: () => tf.Tensor): Result {
  const previous = tf.getBackend();
  tf.setBackend(backend);
  try {
    return tf.tidy(() => {
      const y = fn();
      const m = getMask(y);
      const mask = m == null ? new Uint8Array(y.size / y.shape[y.rank - 1]).fill(1) : Uint8Array.from(m.dataSync());
      return {shape: y.shape, values: Float32Array.from(y.dataSync()), mask};
    });
  } finally {
    tf.setBackend(previous);
  }
}

function padCases(k: number, next: () => number): PadSpec2D[] {
  const p = Math.floor(k / 2);
  const r = (n: number) => Math.floor(next() * (n + 1));
  return [
    'same',
    'valid',
    p,
    [
      [0, 0],
      [r(p + 1), r(p)],
      [r(p), r(p + 1)],
      [0, 0],
    ],
  ];
}

/**
 * `route` against 'cpu' and the dense op on every kernel size, stride, dilation, pad and mask kind: the masks exactly,
 * zeros at inactive pixels, values within 1e-5 (both routes sum in float32, the reference in double). The native ops
 * take depthwise convs, pointwise ones and regular convs of fewer than 8 input channels.
 */
function describeRouteParity(route: 'tile' | 'native'): void {
  let previousOptions: ReturnType<typeof setTensorflowDeltaConvOptions>;
  before(() => {
    previousOptions = setTensorflowDeltaConvOptions({route});
  });
  after(() => {
    setTensorflowDeltaConvOptions(previousOptions);
  });

  for (const depthwise of [false, true]) {
    for (const k of [1, 3, 5]) {
      for (const s of [1, 2]) {
        for (const d of s === 1 && k > 1 ? [1, 2] : [1]) {
          for (const padIndex of [0, 1, 2, 3]) {
            // The native ops take depthwise convs, pointwise ones (1x1, stride 1, unpadded: not explicit pads) and
            // the other regular convs when they have fewer than 8 input channels (TF's conv, the native reach).
            const fewChannels = route === 'native' && !depthwise && (k !== 1 || s !== 1 || padIndex === 3);
            const op = depthwise ? 'deltaDepthwiseConv2d' : 'deltaConv2d';
            const name = `${op} k${k} s${s} d${d} ${['same', 'valid', 'numeric', 'explicit'][padIndex]} pad, every mask kind`;
            it(name, () => {
              const seed = freshSeed();
              const next = seededRandom(seed);
              const pad = padCases(k, next)[padIndex];
              const eff = (k - 1) * d + 1;
              const int = seededInt(next);
              const b = next() < 0.5 ? 1 : 3;
              const [h, w] = [int(eff, eff + 20) | 1, int(eff, eff + 24)];
              const cin = fewChannels ? int(1, NATIVE_DENSE_BELOW_CHANNELS - 1) : int(1, 20);
              const cout = depthwise ? cin * int(1, 2) : int(1, 20);
              const tile = [0, 3, 4, 5, 8][int(0, 4)];
              const filterShape = depthwise ? [k, k, cin, cout / cin] : [k, k, cin, cout];
              const filter = hostValues(filterShape, next, 0.5);
              for (const kind of MASK_KINDS) {
                const ctx =
                  `${name}: ${kind}, x [${b},${h},${w},${cin}] cout ${cout} pad ${JSON.stringify(pad)} ` +
                  `tile ${tile || 'auto'} seed ${seed}`;
                const x = hostValues([b, h, w, cin], next, 1, hostMask(kind, b, h, w, int(1, 10), next));
                const call = () => {
                  const [xt, ft] = [materialize(x) as tf.Tensor4D, materialize(filter) as tf.Tensor4D];
                  return depthwise
                    ? deltaDepthwiseConv2d(xt, ft, s, pad, 'NHWC', d)
                    : deltaConv2d(xt, ft, s, pad, 'NHWC', d);
                };
                const want = onBackend('cpu', call);
                setTensorflowDeltaConvOptions({tile});
                const got = onBackend('tensorflow', call);
                setTensorflowDeltaConvOptions({tile: 0});
                expect(lastDeltaConvCall.route, `${ctx}: route`).to.equal(route);
                expect(got.shape, `${ctx}: shape`).to.deep.equal(want.shape);
                expect(Array.from(got.mask), `${ctx}: mask`).to.deep.equal(Array.from(want.mask));
                const c = got.shape[3];
                got.mask.forEach((on, p) => {
                  if (on) return;
                  for (let i = p * c; i < (p + 1) * c; i++) {
                    if (got.values[i] !== 0) expect.fail(`${ctx}: inactive pixel ${p} holds ${got.values[i]}`);
                  }
                });
                tf.tidy(() => {
                  const gotT = tf.tensor(got.values, got.shape);
                  expectClose(gotT, tf.tensor(want.values, want.shape), `${ctx}: vs cpu`, 1e-5, 1e-5);
                  const dense = denseConv2d(tensor4d(x), tensor4d(filter), s, pad, d, undefined, depthwise);
                  expectClose(gotT, dense, `${ctx}: vs dense op`, 1e-5, 1e-5);
                });
              }
            });
          }
        }
      }
    }
  }
}

describeIfBackend('tensorflow', 'tensorflow delta convs with a numeric pad and a window that is not square', () => {
  // tfjs sizes such an output from the filter's height, stride and dilation in both dimensions; TF's conv gives more
  // columns or rows, which every route must cut off to equal 'cpu'.
  for (const route of ['auto', 'tile', 'dense'] as const) {
    it(`route ${route}: masked, dense and biased inputs equal 'cpu', shapes included`, () => {
      const seed = freshSeed();
      const next = seededRandom(seed);
      const int = seededInt(next);
      const previous = setTensorflowDeltaConvOptions({route});
      try {
        for (let trial = 0; trial < 6; trial++) {
          const depthwise = trial % 3 === 2;
          const [kh, kw] = next() < 0.5 ? [5, int(1, 3)] : [int(1, 3), 5];
          const [sh, sw] = [int(1, 2), int(1, 2)];
          const cin = depthwise ? int(1, 6) : int(1, 7);
          const cout = depthwise ? cin : int(1, 6);
          const [b, h, w] = [int(1, 2), int(9, 23), int(9, 27)];
          const pad = int(0, 2);
          const mode = (['floor', 'round', 'ceil'] as const)[int(0, 2)];
          const filter = hostValues(depthwise ? [kh, kw, cin, 1] : [kh, kw, cin, cout], next, 0.5);
          const bias = hostValues([cout], next);
          for (const kind of ['scattered pixels', 'all active', 'dense', 'biased'] as const) {
            const masked = kind === 'scattered pixels' || kind === 'all active';
            const x = hostValues([b, h, w, cin], next, 1, masked ? hostMask(kind, b, h, w, 3, next) : undefined);
            const ctx = `${depthwise ? 'depthwise' : 'regular'} ${kh}x${kw} s${sh}x${sw} pad ${pad} ${mode}, ${kind}, x [${b},${h},${w},${cin}] seed ${seed}`;
            const call = () => {
              const [xt, ft] = [materialize(x) as tf.Tensor4D, materialize(filter) as tf.Tensor4D];
              const bt = kind === 'biased' ? (materialize(bias) as tf.Tensor1D) : undefined;
              return depthwise
                ? deltaDepthwiseConv2d(xt, ft, [sh, sw], pad, 'NHWC', 1, mode, bt)
                : deltaConv2d(xt, ft, [sh, sw], pad, 'NHWC', 1, mode, bt);
            };
            const want = onBackend('cpu', call);
            const got = onBackend('tensorflow', call);
            expect(got.shape, `${ctx}: shape`).to.deep.equal(want.shape);
            expect(Array.from(got.mask), `${ctx}: mask`).to.deep.equal(Array.from(want.mask));
            tf.tidy(() =>
              expectClose(tf.tensor(got.values, got.shape), tf.tensor(want.values, want.shape), ctx, 1e-5, 1e-5),
            );
          }
        }
      } finally {
        setTensorflowDeltaConvOptions(previous);
      }
    });
  }
});

describeIfBackend('tensorflow', 'tensorflow delta conv tile route', () => describeRouteParity('tile'));

describeNativeTensorflowOps('tensorflow delta conv native ops', () => {
  describeRouteParity('native');

  it('a bad mask or window reaches JavaScript as an error naming the op', () => {
    const backend = tf.findBackend('tensorflow') as unknown as NodeBackend;
    const ops = new TfOps(backend);
    const window = (strideH: number, kernelH: number) => [
      ...[
        ['stride_h', strideH],
        ['stride_w', 1],
        ['dilation_h', 1],
        ['dilation_w', 1],
        ['pad_top', 0],
        ['pad_left', 0],
        ['out_height', 2],
        ['out_width', 2],
        ['kernel_h', kernelH],
      ].map(([name, v]) => ops.int(name as string, v as number)),
      ops.int('kernel_w', 1),
    ];
    tf.tidy(() => {
      const reach = (mask: tf.Tensor, strideH: number, kernelH: number) => () =>
        backend.executeSingleOutput('TfjsDeltaConvReach', window(strideH, kernelH), [mask]);
      expect(reach(tf.ones([2, 2], 'bool'), 1, 1)).to.throw(
        /TfjsDeltaConvReach: mask must be \[batch, height, width\], got \[2,2\]/,
      );
      expect(reach(tf.ones([1, 2, 2], 'bool'), 0, 1)).to.throw(
        /TfjsDeltaConvReach: strides and dilations must be >= 1/,
      );
      expect(reach(tf.ones([1, 2, 2], 'bool'), 1, 0)).to.throw(/TfjsDeltaConvReach: the kernel must be at least 1 x 1/);
    });
  });
});

describeIfBackend('tensorflow', 'tensorflow delta conv routing inside a delta model', () => {
  runSuiteOn('tensorflow');

  it('threshold 0 equals the dense model over 60 frames whose activity swings across the crossover', () => {
    const seed = freshSeed();
    const L = tfl.layers;
    const input = tfl.input({shape: [null, null, 3]});
    let y = L.conv2d({filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu'}).apply(
      input,
    ) as tfl.SymbolicTensor;
    y = L.depthwiseConv2d({kernelSize: 3, padding: 'same', activation: 'relu'}).apply(y) as tfl.SymbolicTensor;
    y = L.conv2d({filters: 12, kernelSize: 1, activation: 'relu'}).apply(y) as tfl.SymbolicTensor;
    y = L.conv2d({filters: 6, kernelSize: 3, dilationRate: 2, padding: 'same'}).apply(y) as tfl.SymbolicTensor;
    const dense = tfl.model({inputs: input, outputs: y});
    randomizeWeights(dense, seed);
    const delta = toDelta(dense, {threshold: 0});
    const shape: [number, number, number, number] = [2, 37, 45, 3];
    const next = seededRandom(seed + 1);
    let frame = tf.randomUniform(shape, -1, 1, 'float32', seed);
    Object.assign(deltaConvRouteCounts, {native: 0, tile: 0, dense: 0});
    for (let t = 0; t < 60; t++) {
      // Mostly a small moving square (the tile route), now and then a global change (the dense route).
      const global = t % 9 === 4;
      const [cy, cx] = [Math.floor(next() * shape[1]), Math.floor(next() * shape[2])];
      const updated = tf.tidy(() => {
        const rows = tf.logicalAnd(
          tf.greaterEqual(tf.range(0, shape[1]), cy - 3),
          tf.less(tf.range(0, shape[1]), cy + 3),
        );
        const cols = tf.logicalAnd(
          tf.greaterEqual(tf.range(0, shape[2]), cx - 3),
          tf.less(tf.range(0, shape[2]), cx + 3),
        );
        const square = tf.cast(
          tf.logicalAnd(tf.reshape(rows, [1, -1, 1, 1]), tf.reshape(cols, [1, 1, -1, 1])),
          'float32',
        );
        const where = global ? tf.onesLike(square) : square;
        return tf.add(frame, tf.mul(where, tf.randomNormal(shape, 0, 0.3, 'float32', seed + 10 + t)));
      });
      frame.dispose();
      frame = updated;
      tf.tidy(() => {
        const want = dense.predictOnBatch(frame) as tf.Tensor;
        const got = delta.predictOnBatch(frame) as tf.Tensor;
        expectClose(got, want, `frame ${t} seed ${seed}`, 1e-5, 1e-5);
      });
    }
    frame.dispose();
    expect(deltaConvRouteCounts.tile, 'calls on the tile route').to.be.greaterThan(20);
    expect(deltaConvRouteCounts.dense, 'calls on the dense route').to.be.greaterThan(5);
    // The first (3-channel), depthwise and 1x1 layers' calls with a mask, where the native ops are built; the
    // dilated 3x3 conv of 12 channels takes the tile and dense routes.
    if (tensorflowNativeOps() != null)
      expect(deltaConvRouteCounts.native, 'calls on the native route').to.be.greaterThan(40);
  });
});
