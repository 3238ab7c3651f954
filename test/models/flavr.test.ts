/**
 * FLAVR as a tfjs LayersModel: the full-width model's tensor names and shapes against the official
 * checkpoints' (flavr_state_dict.json, no weights needed), and numerical parity with the PyTorch
 * reference of scripts/make_torch_fixtures.py at reduced width (2x from a zip training checkpoint,
 * 8x with encoder biases from a legacy one; a multiple-of-8 input and an odd-sized one).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {
  flavr,
  flavrFromCheckpoint,
  flavrOptionsFromStateDict,
  flavrWeightMapping,
  loadFlavrWeights,
} from '../../src/models/flavr';
import {nodeFileSystem} from '../../src/io/node_file_system';
import {loadPyTorchCheckpointSync} from '../../src/models/pytorch/checkpoint';
import {loadStateDict, StateDictMismatchError} from '../../src/models/pytorch/mapping';
import {FIXTURES, shapeOnlyStateDict, strictFp32On} from '../support/pytorch_fixtures';
import {describeEachBackend} from '../support/backends';

const official: {[model: string]: {[name: string]: number[]}} = JSON.parse(
  fs.readFileSync(path.join(FIXTURES, 'flavr_state_dict.json'), 'utf8'),
);

/**
 * max |predicted - expected| relative to max |expected - input mean|, i.e. to the part the network
 * computes (the per-channel input mean added back to every frame would hide errors otherwise).
 */
function flavrError(model: tfl.LayersModel, input: tf.Tensor, expected: tf.Tensor): number {
  return tf.tidy(() => {
    const y = model.predict(input) as tf.Tensor;
    expect(y.shape).to.deep.equal(expected.shape);
    const mean = tf.mean(input, [1, 2, 3], true);
    const scale = tf.max(tf.abs(tf.sub(expected, mean))).dataSync()[0];
    return tf.max(tf.abs(tf.sub(y, expected))).dataSync()[0] / scale;
  });
}

describe('models: FLAVR', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('full width: every official 2x/4x/8x tensor maps onto the model with its exact name and shape', () => {
    const params: {[f: number]: number} = {2: 42061571, 4: 42084297, 8: 42121941};
    for (const factor of [2, 4, 8] as const) {
      const sd = shapeOnlyStateDict(official[`flavr_${factor}x`]);
      const options = flavrOptionsFromStateDict(sd);
      expect(options).to.deep.equal({factor, encoderBias: factor > 2, depth: 18, widths: [64, 128, 256, 512]});
      const model = flavr({factor, weightInit: 'zeros'});
      try {
        expect(model.countParams(), `${factor}x parameters`).to.equal(params[factor]);
        const mapping = flavrWeightMapping(model);
        expect(mapping.length).to.equal(sd.size);
        loadStateDict(model, mapping, sd, {dryRun: true}); // throws on any missing, unexpected or mis-shaped name
        if (factor === 2) {
          // The 8x tensors do not fit the 2x model: the error names all of them.
          let error: StateDictMismatchError | null = null;
          try {
            loadFlavrWeights(model, shapeOnlyStateDict(official.flavr_8x));
          } catch (e) {
            error = e as StateDictMismatchError;
          }
          expect(error).to.be.instanceOf(StateDictMismatchError);
          expect(error!.missing).to.deep.equal([]);
          expect(error!.unexpected.length).to.equal(17);
          expect(error!.unexpected[0]).to.equal('encoder.stem.0.bias');
          expect(error!.misShaped).to.deep.equal([
            {name: 'outconv.1.weight', expected: [3, 64, 7, 7], got: [21, 64, 7, 7]},
            {name: 'outconv.1.bias', expected: [3], got: [21]},
          ]);
          expect(error!.message).to.match(
            /^loading FLAVR weights into 'flavr_2x': the state dict does not match the model; 17 unexpected: encoder.stem.0.bias, /,
          );
        }
      } finally {
        model.dispose();
      }
    }
  });

  it('saves and reloads through the file system with its custom layers', async () => {
    const model = await flavrFromCheckpoint(path.join(FIXTURES, 'flavr2x.pth'));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-delta-flavr-'));
    try {
      await model.save(nodeFileSystem(dir));
      const loaded = await tfl.loadLayersModel(path.join(dir, 'model.json'));
      const x = tf.randomUniform([1, 4, 8, 16, 3], 0, 1, 'float32', 3);
      const a = (model.predict(x) as tf.Tensor).dataSync();
      const b = (loaded.predict(x) as tf.Tensor).dataSync();
      expect(Array.from(b)).to.deep.equal(Array.from(a));
      expect(loaded.layers.map((l) => l.getClassName())).to.include.members([
        'Conv3DGated',
        'ZeroPadding3D',
        'ReflectionPadding2D',
        'PadToMultiple',
        'CropLike',
        'MeanShift',
        'FoldFrames',
        'UnfoldFrames',
      ]);
      loaded.dispose();
      x.dispose();
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
      model.dispose();
    }
  });

  it('reproduces PyTorch padding at stride 2 (explicit pads), never TF "same"', () => {
    const model = flavr({widths: [4, 6, 8, 10]});
    try {
      expect(model.getLayer('encoder.stem.0.pad').getConfig().padding).to.deep.equal([
        [1, 1],
        [3, 3],
        [3, 3],
      ]);
      expect(model.getLayer('encoder.stem.0').getConfig().padding).to.equal('valid');
      for (const l of ['encoder.layer2.0.conv1.0', 'encoder.layer3.0.conv1.0']) {
        expect(model.getLayer(`${l}.pad`).getConfig().padding, l).to.deep.equal([
          [1, 1],
          [1, 1],
          [1, 1],
        ]);
        expect(model.getLayer(l).getConfig().padding, l).to.equal('valid');
      }
      expect(model.outputs[0].shape).to.deep.equal([null, 1, null, null, 3]);
    } finally {
      model.dispose();
    }
  });

  it('refuses checkpoints of another model with a clear error', async () => {
    let error: Error | null = null;
    try {
      await flavrFromCheckpoint(path.join(FIXTURES, 'resnet50.pth'));
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).to.match(/not a FLAVR state dict: no 'outconv.1.weight' \(keys: conv1.weight, bn1.weight/);
  });
});

describeEachBackend('models: FLAVR parity with PyTorch', (backend) => {
  strictFp32On(backend);
  const cases = [
    {file: 'flavr2x.pth', io: 'flavr2x_io.safetensors', what: '2x, zip training checkpoint, no encoder biases'},
    {file: 'flavr8x_legacy.pth', io: 'flavr8x_io.safetensors', what: '8x, legacy format, encoder biases'},
  ];
  for (const c of cases) {
    it(`matches PyTorch: ${c.what} (16x24 and odd 13x21 inputs)`, async () => {
      const model = await flavrFromCheckpoint(path.join(FIXTURES, c.file));
      const io = loadPyTorchCheckpointSync(path.join(FIXTURES, c.io));
      try {
        for (const i of [0, 1]) {
          const input = io.get(`input${i}`)!.toTensor();
          const expected = io.get(`output${i}`)!.toTensor();
          const err = flavrError(model, input, expected);
          expect(err, `${c.file} input ${i} [${input.shape}] relative error`).to.be.below(1e-4);
          tf.dispose([input, expected]);
        }
      } finally {
        model.dispose();
      }
    });
  }
});
