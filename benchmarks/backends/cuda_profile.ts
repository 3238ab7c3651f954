/**
 * Where the time goes on 'cuda' (run on the GPU machine; `node --cpu-prof dist/benchmarks/backends/cuda_profile.js`):
 * per-op cost of the engine path vs the bare native call, cuDNN time of one convolution without tfjs around it,
 * and the kernel count of one ResNet-50 predict. Prints a short table.
 */
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';

import {cudaAvailability} from '../../src/backends/cuda/index';
import {CudaBackend} from '../../src/backends/cuda/backend';
import {UnaryOp} from '../../src/backends/cuda/native';
import {resnet50Trunk} from './cuda_dense';

function perCallUs(n: number, f: () => void, sync: () => void): number {
  for (let i = 0; i < 20; i++) f();
  sync();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) f();
  sync();
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

async function main() {
  const a = cudaAvailability();
  if (!a.available) throw new Error(a.reason);
  await tf.setBackend('cuda');
  const be = tf.backend() as CudaBackend;
  const sync = () => be.n.sync();
  const tiny = tf.tensor([1, -2, 3, -4]);
  const out = be.makeOutput([4], 'float32');
  const rows: Array<[string, number]> = [];
  rows.push([
    'native unary call, 4 elements (us)',
    perCallUs(5000, () => be.n.unary({op: UnaryOp.relu, x: be.ptr(tiny), y: be.ptr(out), n: 4, alpha: 0}), sync),
  ]);
  rows.push(['tf.relu via engine, 4 elements (us)', perCallUs(5000, () => tf.relu(tiny).dispose(), sync)]);
  rows.push(['tf.add via engine, 4 elements (us)', perCallUs(5000, () => tf.add(tiny, tiny).dispose(), sync)]);

  const x = tf.randomNormal([1, 128, 128, 64]) as tf.Tensor4D;
  const f = tf.randomNormal([3, 3, 64, 64]) as tf.Tensor4D;
  const b = tf.randomNormal([64]);
  rows.push(['tf.conv2d 3x3 64->64 1x128x128 (us)', perCallUs(200, () => tf.conv2d(x, f, 1, 'same').dispose(), sync)]);
  rows.push([
    'fused conv2d + bias relu (us)',
    perCallUs(
      200,
      () => tf.fused.conv2d({x, filter: f, strides: 1, pad: 'same', bias: b, activation: 'relu'}).dispose(),
      sync,
    ),
  ]);
  const w = be.data.get(f.dataId).derived!.get('krsc:3012')!;
  const y = be.makeOutput([1, 128, 128, 64], 'float32');
  const conv3x3 = (size: number) => ({
    nd: 2,
    backwardData: false,
    n: 1,
    c: 64,
    k: 64,
    groups: 1,
    xs: [size, size],
    ys: [size, size],
    ws: [3, 3],
    pad: [1, 1],
    stride: [1, 1],
    dil: [1, 1],
  });
  const params = conv3x3(128);
  rows.push([
    'native conv call only (us, wall)',
    perCallUs(200, () => be.n.conv({...params, x: be.ptr(x), w, y: be.ptr(y)}), sync),
  ]);
  const t = be.n.timerStart();
  for (let i = 0; i < 200; i++) be.n.conv({...params, x: be.ptr(x), w, y: be.ptr(y)});
  rows.push(['native conv, GPU time per call (us, events)', (be.n.timerEnd({timer: t}) * 1e3) / 200]);
  // Does a conv call return before the GPU is done? Issue 200 without syncing and time the host side only.
  const issue = (f: () => void) => {
    sync();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 200; i++) f();
    const host = Number(process.hrtime.bigint() - t0) / 1e3 / 200;
    sync();
    return host;
  };
  rows.push([
    'native conv, host time per call, no sync (us)',
    issue(() => be.n.conv({...params, x: be.ptr(x), w, y: be.ptr(y)})),
  ]);
  const big = be.makeOutput([1 << 22], 'float32');
  rows.push([
    'native unary 4M elements, host time per call, no sync (us)',
    issue(() => be.n.unary({op: UnaryOp.relu, x: be.ptr(big), y: be.ptr(big), n: 1 << 22, alpha: 0})),
  ]);
  be.n.setOptions({findAlgorithms: false});
  const x2 = tf.randomNormal([1, 96, 96, 64]) as tf.Tensor4D;
  tf.conv2d(x2, f, 1, 'same').dispose();
  const y2 = be.makeOutput([1, 96, 96, 64], 'float32');
  const p2 = conv3x3(96);
  rows.push([
    'heuristic-algo conv 96x96, host time per call, no sync (us)',
    issue(() => be.n.conv({...p2, x: be.ptr(x2), w, y: be.ptr(y2)})),
  ]);
  be.n.setOptions({findAlgorithms: true});

  await tf.setBackend('cpu');
  const model = resnet50Trunk(256);
  const input = tf.randomNormal([1, 256, 256, 3]);
  await tf.setBackend('cuda');
  (model.predict(input) as tf.Tensor).dispose();
  const prof = await tf.profile(() => (model.predict(input) as tf.Tensor).dispose());
  const counts: {[k: string]: number} = {};
  for (const k of prof.kernels) counts[k.name] = (counts[k.name] ?? 0) + 1;
  rows.push(['resnet50 b1 kernels per predict', prof.kernels.length]);
  rows.push([
    'resnet50 b1 predict (us, wall incl. sync)',
    perCallUs(50, () => (model.predict(input) as tf.Tensor).dispose(), sync),
  ]);
  const t2 = be.n.timerStart();
  for (let i = 0; i < 50; i++) (model.predict(input) as tf.Tensor).dispose();
  rows.push(['resnet50 b1 predict (us, events, same loop)', (be.n.timerEnd({timer: t2}) * 1e3) / 50]);
  rows.push([
    'resnet50 b1 predict, host time, no sync (us)',
    (() => {
      sync();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 20; i++) (model.predict(input) as tf.Tensor).dispose();
      const host = Number(process.hrtime.bigint() - t0) / 1e3 / 20;
      sync();
      return host;
    })(),
  ]);
  console.log(JSON.stringify(counts));
  console.log(JSON.stringify(be.n.convPlans()));
  for (const [k, v] of rows) console.log(`${k}: ${v.toFixed(1)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
