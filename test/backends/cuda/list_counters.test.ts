/**
 * List counts published by their producers on 'cuda' (setCudaOptions({listCounters}), native/cuda/pixel_list.cuh
 * publishListCount): the tile list pass, the accumulator's list written by a tiled conv, the fused depthwise block's
 * pixel list and the accumulator's own list pass count into the stream's two counters, and each grid's last block
 * publishes the total and zeroes them, instead of a memset before every list. A count left unpublished or a counter
 * left unreset shows as wrong pixels in a later layer or frame, so a MobileNetV2-like delta model's compiled stream
 * (eager frames, then CUDA graph replays) must give the same outputs bit for bit with the counters on and off, with
 * tile lists on every grid and at the default threshold, and lazy zeros (the lists' condition); with them its graph
 * has fewer nodes (no memset nodes), which shows that they were used.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {TILE_LIST_WAVES} from '../../../src/backends/cuda/backend';
import {deltaConvStats} from '../../../src/backends/cuda/kernels/delta';
import {setCudaOptions} from '../../../src/backends/cuda/index';
import {compileStream} from '../../../src/stream/compile_stream';
import {toDelta} from '../../../src/delta/to_delta';
import {cudaBackend, describeCuda, sparselyChangingFrames, withZeroWrites} from '../../support/cuda';

/** Runs `f` with the context's list counters on or off (setCudaOptions; TFJS_DELTA_CUDA_LIST_COUNTERS at load). */
async function withCounters<T>(on: boolean, f: () => Promise<T>): Promise<T> {
  const saved = cudaBackend().n.getOptions().listCounters;
  setCudaOptions({listCounters: on});
  try {
    return await f();
  } finally {
    setCudaOptions({listCounters: saved});
  }
}

/** Two inverted residual blocks after a strided 3x3 conv, as MobileNetV2 begins. */
function invertedResiduals(h: number, w: number): tfl.LayersModel {
  const input = tfl.input({shape: [h, w, 3]});
  const stem = tfl.layers
    .conv2d({filters: 16, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6'})
    .apply(input) as tfl.SymbolicTensor;
  let y = stem;
  for (let block = 0; block < 2; block++) {
    let z = tfl.layers.conv2d({filters: 64, kernelSize: 1, activation: 'relu6'}).apply(y) as tfl.SymbolicTensor;
    z = tfl.layers
      .depthwiseConv2d({kernelSize: 3, padding: 'same', activation: 'relu6'})
      .apply(z) as tfl.SymbolicTensor;
    z = tfl.layers.conv2d({filters: 16, kernelSize: 1}).apply(z) as tfl.SymbolicTensor;
    y = tfl.layers.add().apply([y, z]) as tfl.SymbolicTensor;
  }
  y = tfl.layers.conv2d({filters: 40, kernelSize: 1, activation: 'relu6'}).apply(y) as tfl.SymbolicTensor;
  return tfl.model({inputs: input, outputs: y});
}

describeCuda('cuda list counts published by their producers', () => {
  for (const waves of [0, TILE_LIST_WAVES]) {
    it(`a compiled delta stream is the same bit for bit with the list counters on and off (tile lists at ${waves} waves)`, async () => {
      await tf.setBackend('cuda');
      const [h, w] = [75, 139];
      const model = invertedResiduals(h, w);
      const frames = sparselyChangingFrames([2, h, w, 3], 12, 0.97, {still: 21, moved: 500, change: 600});
      const b = cudaBackend();
      const saved = [b.denseBelowBlocks, b.tileListWaves, b.smallConvBlocks] as const;
      b.denseBelowBlocks = 0; // the tiled kernels on every grid: they write the accumulator's lists
      b.tileListWaves = waves;
      b.smallConvBlocks = false; // the stem and the 1x1 convs over 16 channels on the tiled kernels too
      // The stream's outputs and its graph's node count (each memset of a count is a node).
      const run = (on: boolean) =>
        withCounters(on, () =>
          withZeroWrites('lazy', async () => {
            const before = deltaConvStats.tileLists;
            const delta = toDelta(model, {threshold: 0.02, inputThreshold: 0.05});
            const stream = compileStream(delta);
            try {
              const outs = frames.map((f) => {
                const o = stream.step(f) as tf.Tensor;
                const v = (o.dataSync() as Float32Array).slice();
                o.dispose();
                return v;
              });
              return {outs, nodes: stream.info.graphNodes, listed: deltaConvStats.tileLists - before};
            } finally {
              stream.dispose();
              delta.dispose();
            }
          }),
        );
      try {
        const on = await run(true);
        const off = await run(false);
        if (waves === 0) expect(on.listed, 'convs over a tile list').to.be.greaterThan(0);
        expect(on.nodes, `graph nodes with the counters ${on.nodes}, without ${off.nodes}`).to.be.lessThan(off.nodes);
        expect(on.outs.length).to.equal(frames.length);
        on.outs.forEach((v, i) => {
          expect(
            v.some((x) => x !== 0),
            `frame ${i} has non-zero outputs`,
          ).to.equal(true);
          v.forEach((x, j) => {
            if (!Object.is(x, off.outs[i][j]))
              expect.fail(`frame ${i} element ${j}: ${x} with the list counters, ${off.outs[i][j]} without`);
          });
        });
      } finally {
        [b.denseBelowBlocks, b.tileListWaves, b.smallConvBlocks] = saved;
        tf.dispose(frames);
        model.dispose();
      }
    });
  }
});
