/**
 * Where the 'tensorflow' delta conv's tile route stops paying: per conv shape (PoseNet-MobileNetV1 x0.75 layers at
 * 288x384, plus a ResNet-style 3x3 and MobileNetV2's first conv at 576x768), per activity, the tile route and the
 * dense route of deltaConv2d / deltaDepthwiseConv2d, and tfjs-delta's native ops for the depthwise, pointwise and
 * few-channel regular ones (where built), against the dense tf op, in the same run, interleaved:
 *   npm run build && node dist/benchmarks/ops/delta_conv_tensorflow.js [--runs 15] [--match pw1x1] [--out file.json]
 * Activity: aligned input blocks of one tile's input footprint, a share of them active, so the
 * active-tile fraction (reported as measured by the kernel) is near that share plus the halo's
 * spill into neighbouring tiles. Pointwise (1x1 stride 1) convs use single-pixel tiles, so for them
 * the reported fraction is the active-pixel fraction. The crossover is the active-tile fraction where the tile route's
 * median time reaches the dense route's (linear interpolation between measured points).
 * Writes benchmarks/results/delta_conv_tensorflow_cpu-<cores>core.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as os from 'os';

import {deltaConv2d, deltaDepthwiseConv2d, withMask} from '../../src/index';
import {
  lastDeltaConvCall,
  NATIVE_DENSE_BELOW_CHANNELS,
  setTensorflowDeltaConvOptions,
  tileSideFor,
} from '../../src/kernels/tensorflow/delta_conv_impl';
import {arg, crossover, median, runMain, timeOnce, writeResults} from '../bench_util';
import {tensorflowNativeOps} from '../../src/kernels/tensorflow/native_ops';
import {loadTfjsNode} from '../../src/kernels/tensorflow/tfjs_node_kernels';

interface Shape {
  name: string;
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: number;
  s: number;
  d: number;
  depthwise: boolean;
}

const SHAPES: Shape[] = [
  {name: 'conv3x3 s2 3->24 @288x384', h: 288, w: 384, cin: 3, cout: 24, k: 3, s: 2, d: 1, depthwise: false},
  {name: 'conv3x3 s2 3->32 @576x768', h: 576, w: 768, cin: 3, cout: 32, k: 3, s: 2, d: 1, depthwise: false},
  {name: 'dw3x3 s1 48 @144x192', h: 144, w: 192, cin: 48, cout: 48, k: 3, s: 1, d: 1, depthwise: true},
  {name: 'dw3x3 s2 48 @144x192', h: 144, w: 192, cin: 48, cout: 48, k: 3, s: 2, d: 1, depthwise: true},
  {name: 'dw3x3 s1 96 @72x96', h: 72, w: 96, cin: 96, cout: 96, k: 3, s: 1, d: 1, depthwise: true},
  {name: 'dw3x3 s1 384 @18x24', h: 18, w: 24, cin: 384, cout: 384, k: 3, s: 1, d: 1, depthwise: true},
  {name: 'pw1x1 24->48 @144x192', h: 144, w: 192, cin: 24, cout: 48, k: 1, s: 1, d: 1, depthwise: false},
  {name: 'pw1x1 96->96 @72x96', h: 72, w: 96, cin: 96, cout: 96, k: 1, s: 1, d: 1, depthwise: false},
  {name: 'pw1x1 192->192 @36x48', h: 36, w: 48, cin: 192, cout: 192, k: 1, s: 1, d: 1, depthwise: false},
  {name: 'pw1x1 384->384 @18x24', h: 18, w: 24, cin: 384, cout: 384, k: 1, s: 1, d: 1, depthwise: false},
  {name: 'conv3x3 s1 64->64 @72x96', h: 72, w: 96, cin: 64, cout: 64, k: 3, s: 1, d: 1, depthwise: false},
];
const SHARES = [0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1];

function blockDelta(sh: Shape, block: number, share: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [by, bx] = [Math.ceil(sh.h / block), Math.ceil(sh.w / block)];
    const pick = tf.less(tf.randomUniform([1, by, bx, 1], 0, 1, 'float32', seed), share);
    const up = tf.image.resizeNearestNeighbor(tf.cast(pick, 'float32') as tf.Tensor4D, [by * block, bx * block]);
    const flags = tf.reshape(tf.slice(up, [0, 0, 0, 0], [1, sh.h, sh.w, 1]), [1, sh.h, sh.w]);
    return withMask(tf.randomNormal([1, sh.h, sh.w, sh.cin], 0, 1, 'float32', seed + 1), flags) as tf.Tensor4D;
  });
}

async function main() {
  loadTfjsNode();
  await tf.setBackend('tensorflow');
  const runs = Number(arg('runs', '15'));
  const rows: unknown[] = [];
  for (const sh of SHAPES.filter((s) => s.name.includes(arg('match', '')))) {
    const filter = tf.randomNormal(
      sh.depthwise ? [sh.k, sh.k, sh.cin, 1] : [sh.k, sh.k, sh.cin, sh.cout],
      0,
      0.1,
    ) as tf.Tensor4D;
    const [oh, ow] = [Math.ceil(sh.h / sh.s), Math.ceil(sh.w / sh.s)];
    const t = tileSideFor(oh, ow);
    const delta = (x: tf.Tensor4D) =>
      sh.depthwise
        ? deltaDepthwiseConv2d(x, filter, sh.s, 'same', 'NHWC', sh.d)
        : deltaConv2d(x, filter, sh.s, 'same', 'NHWC', sh.d);
    const dense = (x: tf.Tensor4D) =>
      sh.depthwise
        ? tf.depthwiseConv2d(x, filter, sh.s, 'same', 'NHWC', sh.d)
        : tf.conv2d(x, filter, sh.s, 'same', 'NHWC', sh.d);
    const pointwise = sh.k === 1 && sh.s === 1 && !sh.depthwise;
    const points: Array<{
      share: number;
      activeTileFraction: number;
      denseMs: number;
      denseRouteMs: number;
      tileRouteMs: number;
      nativeMs?: number;
    }> = [];
    // The native ops take depthwise, pointwise and few-channel regular convs (TF's conv with the native reach).
    const native =
      (sh.depthwise || (sh.k === 1 && sh.s === 1) || sh.cin < NATIVE_DENSE_BELOW_CHANNELS) &&
      tensorflowNativeOps() != null;
    for (const share of SHARES) {
      const x = blockDelta(sh, pointwise ? 1 : t * sh.s, share, 1000 + Math.round(share * 100));
      const time = {
        dense: [] as number[],
        denseRoute: [] as number[],
        tileRoute: [] as number[],
        native: [] as number[],
      };
      let activeTileFraction = 0;
      for (let r = 0; r < runs + 2; r++) {
        const d = timeOnce(() => dense(x));
        setTensorflowDeltaConvOptions({route: 'dense'});
        const dr = timeOnce(() => delta(x));
        setTensorflowDeltaConvOptions({route: 'tile'});
        const tr = timeOnce(() => delta(x));
        activeTileFraction = lastDeltaConvCall.activeTiles / lastDeltaConvCall.tiles;
        setTensorflowDeltaConvOptions({route: 'native'});
        const nr = native ? timeOnce(() => delta(x)) : 0;
        setTensorflowDeltaConvOptions({route: 'auto'});
        if (r >= 2) {
          time.dense.push(d);
          time.denseRoute.push(dr);
          time.tileRoute.push(tr);
          time.native.push(nr);
        }
      }
      x.dispose();
      points.push({
        share,
        activeTileFraction,
        denseMs: median(time.dense),
        denseRouteMs: median(time.denseRoute),
        tileRouteMs: median(time.tileRoute),
        ...(native ? {nativeMs: median(time.native)} : {}),
      });
    }
    const crossoverShare = crossover(
      points.map((p) => ({x: p.activeTileFraction, sparseMs: p.tileRouteMs, denseMs: p.denseRouteMs})),
    );
    const patch = ((t - 1) * sh.s + (sh.k - 1) * sh.d + 1) ** 2;
    console.log(
      `${sh.name}: tile ${pointwise ? 1 : t}, halo ${(patch / (t * t * sh.s * sh.s)).toFixed(2)}, crossover at active-tile ` +
        `fraction ${crossoverShare.toFixed(2)}`,
    );
    for (const p of points) {
      console.log(
        `  tiles ${p.activeTileFraction.toFixed(2)}: dense op ${p.denseMs.toFixed(2)} ms, dense route ` +
          `${p.denseRouteMs.toFixed(2)} ms (${(p.denseMs / p.denseRouteMs).toFixed(2)}x), tile route ` +
          `${p.tileRouteMs.toFixed(2)} ms (${(p.denseMs / p.tileRouteMs).toFixed(2)}x)` +
          (p.nativeMs == null ? '' : `, native ${p.nativeMs.toFixed(2)} ms (${(p.denseMs / p.nativeMs).toFixed(2)}x)`),
      );
    }
    rows.push({...sh, tile: t, halo: patch / (t * t * sh.s * sh.s), crossover: crossoverShare, points});
    filter.dispose();
  }
  writeResults(`delta_conv_tensorflow_cpu-${os.cpus().length}core.json`, {
    backend: 'tensorflow',
    cpus: os.cpus().length,
    runs,
    date: new Date().toISOString(),
    note: "ms = median wall time of one call; ratios = dense tf op / route; native: tfjs-delta's TF ops (depthwise, pointwise)",
    shapes: rows,
  });
}

runMain(main);
