/**
 * The Node file-system IOHandler: save/load round trips through tf.loadLayersModel and
 * model.save with plain paths and file:// URLs, sharded weights, and clear errors.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {nodeFileSystem} from '../../src/io/node_file_system';

function smallModel(): tfl.LayersModel {
  const input = tfl.input({shape: [6, 6, 3]});
  const c = tfl.layers.conv2d({filters: 4, kernelSize: 3, padding: 'same', activation: 'relu'}).apply(input);
  const b = tfl.layers.batchNormalization().apply(c);
  const f = tfl.layers.flatten().apply(b);
  const out = tfl.layers.dense({units: 5}).apply(f) as tfl.SymbolicTensor;
  return tfl.model({inputs: input, outputs: out});
}

async function expectRejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  let error: Error | null = null;
  try {
    await p;
  } catch (e) {
    error = e as Error;
  }
  expect(error, `expected an error matching ${pattern}`).to.not.equal(null);
  expect(error!.message).to.match(pattern);
}

describe('nodeFileSystem IOHandler', () => {
  let dir: string;
  let model: tfl.LayersModel;
  let x: tf.Tensor;
  let expected: Float32Array;

  before(async () => {
    await tf.setBackend('cpu');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-delta-io-'));
    model = smallModel();
    x = tf.randomNormal([2, 6, 6, 3], 0, 1, 'float32', 7);
    expected = (model.predict(x) as tf.Tensor).dataSync() as Float32Array;
  });
  after(() => {
    fs.rmSync(dir, {recursive: true, force: true});
    x.dispose();
    model.dispose();
  });

  async function expectSameOutputs(loaded: tfl.LayersModel): Promise<void> {
    const got = (loaded.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(got)).to.deep.equal(Array.from(expected));
    loaded.dispose();
  }

  it('round-trips through model.save / tf.loadLayersModel with a plain path', async () => {
    const target = path.join(dir, 'plain');
    const result = await model.save(target);
    expect(result.modelArtifactsInfo.weightDataBytes).to.be.greaterThan(0);
    expect(fs.readdirSync(target).sort()).to.deep.equal(['model.json', 'weights.bin']);
    await expectSameOutputs(await tfl.loadLayersModel(path.join(target, 'model.json')));
    // A directory holding a model.json loads too.
    await expectSameOutputs(await tfl.loadLayersModel(target));
  });

  it('round-trips with file:// URLs (relative and absolute)', async () => {
    const target = path.join(dir, 'url');
    await model.save(`file://${target}`);
    await expectSameOutputs(await tfl.loadLayersModel(`file://${target}/model.json`));
    const rel = path.relative(process.cwd(), target);
    await expectSameOutputs(await tfl.loadLayersModel(`file://${rel}/model.json`));
  });

  it('writes and reads sharded weights (shards split inside tensors)', async () => {
    const target = path.join(dir, 'sharded');
    await model.save(nodeFileSystem(target, {shardSizeBytes: 100}));
    const json = JSON.parse(fs.readFileSync(path.join(target, 'model.json'), 'utf8'));
    const paths: string[] = json.weightsManifest[0].paths;
    expect(paths.length).to.be.greaterThan(3);
    expect(paths[0]).to.equal(`group1-shard1of${paths.length}.bin`);
    for (const p of paths.slice(0, -1)) expect(fs.statSync(path.join(target, p)).size).to.equal(100);
    await expectSameOutputs(await tfl.loadLayersModel(path.join(target, 'model.json')));
  });

  it('saves to an explicit .json path and keeps other artifacts fields', async () => {
    const target = path.join(dir, 'named', 'net.json');
    await model.save(target);
    expect(fs.existsSync(path.join(dir, 'named', 'weights.bin'))).to.equal(true);
    const json = JSON.parse(fs.readFileSync(target, 'utf8'));
    expect(json.format).to.equal('layers-model');
    await expectSameOutputs(await tfl.loadLayersModel(target));
  });

  it('gives clear errors for missing, truncated and invalid files', async () => {
    await expectRejects(
      tfl.loadLayersModel(path.join(dir, 'nope', 'model.json')),
      /nodeFileSystem: model file '.*nope\/model.json' does not exist/,
    );
    const target = path.join(dir, 'broken');
    await model.save(nodeFileSystem(target, {shardSizeBytes: 100}));
    const json = JSON.parse(fs.readFileSync(path.join(target, 'model.json'), 'utf8'));
    const second = path.join(target, json.weightsManifest[0].paths[1]);
    const bytes = fs.readFileSync(second);
    fs.rmSync(second);
    await expectRejects(
      tfl.loadLayersModel(path.join(target, 'model.json')),
      /weights file '.*group1-shard2of\d+\.bin' \(listed in the weightsManifest of '.*model.json'\) does not exist/,
    );
    fs.writeFileSync(second, bytes.subarray(0, 50));
    await expectRejects(
      tfl.loadLayersModel(path.join(target, 'model.json')),
      /hold \d+ bytes, but its weightsManifest needs \d+ \(\d+ tensors\): a shard is truncated/,
    );
    fs.writeFileSync(path.join(target, 'model.json'), '{"modelTopology": ');
    await expectRejects(tfl.loadLayersModel(path.join(target, 'model.json')), /is not valid JSON/);
    fs.writeFileSync(path.join(target, 'model.json'), '{"weights": []}');
    await expectRejects(tfl.loadLayersModel(path.join(target, 'model.json')), /has no 'modelTopology'/);
    const file = path.join(dir, 'a-file');
    fs.writeFileSync(file, 'x');
    await expectRejects(model.save(path.join(file, 'sub')), /cannot create directory '.*a-file\/sub'/);
    expect(() => nodeFileSystem(dir, {shardSizeBytes: 0})).to.throw(/shardSizeBytes must be a positive integer/);
  });

  it('leaves other schemes to their own routers', () => {
    expect(tf.io.getLoadHandlers('http://127.0.0.1:1/model.json').length).to.equal(1); // tfjs's http router only
    expect(tf.io.getSaveHandlers('localstorage://m').length).to.be.at.most(1);
    expect(tf.io.getLoadHandlers('some/dir/model.json').length).to.equal(1);
  });

  it('steps aside when another router claims the same file:// URL (as tfjs-node does)', () => {
    const other: tf.io.IOHandler = {load: async () => ({})};
    tf.io.registerLoadRouter(
      (url: string | string[]) =>
        (typeof url === 'string' && url.startsWith('file:///claimed-by-other/') ? other : null) as tf.io.IOHandler,
    );
    const handlers = tf.io.getLoadHandlers('file:///claimed-by-other/model.json');
    // Ours is absent (tfjs-node's own file router may be there too, when something loaded tfjs-node).
    const ours = nodeFileSystem('x').constructor;
    expect(handlers).to.include(other);
    expect(handlers.filter((h) => h.constructor === ours)).to.deep.equal([]);
  });
});
