/**
 * What running transposed convolutions on 'tensorflow' as forward convolutions by phase costs
 * (src/kernels/tensorflow/TransposedConv.ts): TensorFlow's own Conv2DBackpropInput / Conv3DBackpropInputV2 (called
 * directly, as tfjs-node would: TfOps.transposedConvValidNative) against transposedConvValid on the same inputs, interleaved, in the same run; 'valid'
 * full outputs. Also prints the largest difference between the two: on CPUs where TensorFlow's oneDNN kernel is wrong
 * (more than 32 output channels on AVX-512 BF16) it is large, and the tests hold the phases to the 'cpu' backend.
 *   npm run build && node dist/benchmarks/ops/transposed_conv_tensorflow.js [--runs 5]
 * Writes benchmarks/results/transposed_conv_tensorflow_cpu-<cores>core.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as os from 'os';

import {loadTfjsNode} from '../../src/kernels/tensorflow/tfjs_node_kernels';
import {transposedConvValid} from '../../src/kernels/tensorflow/TransposedConv';
import {NodeBackend, TfOps} from '../../src/kernels/tensorflow/tf_ops';
import {arg, median, runMain, timeOnce, writeResults} from '../bench_util';

interface Case {
  name: string;
  x: number[]; // [b, ...spatial, cIn]
  k: number[];
  strides: number[];
  cOut: number;
}

const CASES: Case[] = [
  {
    name: 'FLAVR-like 3D 64 -> 32, k (3, 4, 4), s (1, 2, 2)',
    x: [1, 4, 48, 48, 64],
    k: [3, 4, 4],
    strides: [1, 2, 2],
    cOut: 32,
  },
  {name: '2D 64 -> 32, k 4, s 2', x: [4, 48, 48, 64], k: [4, 4], strides: [2, 2], cOut: 32},
  {name: '2D 32 -> 48, k 3, s 1', x: [4, 96, 96, 32], k: [3, 3], strides: [1, 1], cOut: 48},
  {name: '2D 16 -> 8, k 4, s 2 (small)', x: [1, 12, 12, 16], k: [4, 4], strides: [2, 2], cOut: 8},
];

async function main() {
  loadTfjsNode();
  await tf.setBackend('tensorflow');
  const ops = new TfOps(tf.backend() as unknown as NodeBackend);
  const runs = Number(arg('runs', '5'));
  const rows: unknown[] = [];
  for (const c of CASES) {
    const dy = tf.randomNormal(c.x, 0, 1, 'float32', 1);
    const filter = tf.randomNormal([...c.k, c.cOut, c.x[c.x.length - 1]], 0, 0.3, 'float32', 2);
    const maxDiff = tf.tidy(
      () =>
        tf
          .max(
            tf.abs(
              tf.sub(ops.transposedConvValidNative(dy, filter, c.strides), transposedConvValid(dy, filter, c.strides)),
            ),
          )
          .dataSync()[0],
    );
    const times = {tensorflow: [] as number[], phases: [] as number[]};
    for (let i = 0; i < runs + 2; i++) {
      const t = [
        timeOnce(() => ops.transposedConvValidNative(dy, filter, c.strides)),
        timeOnce(() => transposedConvValid(dy, filter, c.strides)),
      ];
      if (i < 2) continue;
      times.tensorflow.push(t[0]);
      times.phases.push(t[1]);
    }
    const [native, phases] = [median(times.tensorflow), median(times.phases)];
    console.log(
      `${c.name}: TensorFlow's kernel ${native.toFixed(1)} ms, by phases ${phases.toFixed(1)} ms ` +
        `(${(phases / native).toFixed(2)}x its time); max |difference| ${maxDiff.toExponential(2)}`,
    );
    rows.push({...c, tensorflowMs: native, phasesMs: phases, ratio: phases / native, maxDifference: maxDiff});
    tf.dispose([dy, filter]);
  }
  writeResults(`transposed_conv_tensorflow_cpu-${os.cpus().length}core.json`, {
    backend: 'tensorflow',
    cpu: os.cpus()[0]?.model,
    cpus: os.cpus().length,
    runs,
    date: new Date().toISOString(),
    loadAverage: os.loadavg(),
    note: "ms = median wall time of one call, 'valid' full output; ratio = phases / TensorFlow's kernel",
    cases: rows,
  });
}

runMain(main);
