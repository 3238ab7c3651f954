/**
 * ResNet-18/34/50 (torchvision layout and names) and the SimpleBaseline pose head as tfjs
 * LayersModels: full-width parameter counts equal torchvision's, and numerical parity with the
 * PyTorch reference of scripts/make_torch_fixtures.py at reduced width (ResNet-50 classifier from a
 * torch.save zip state dict, ResNet-18 + pose head from safetensors, odd-sized input).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {loadPyTorchCheckpointSync} from '../../src/models/pytorch/checkpoint';
import {StateDictMismatchError} from '../../src/models/pytorch/mapping';
import {
  loadResNetWeights,
  resnet,
  resnetFromCheckpoint,
  resnetOptionsFromStateDict,
  resnetWeightMapping,
} from '../../src/models/resnet';
import {nodeFileSystem} from '../../src/io/node_file_system';
import {fixture, strictFp32On} from '../support/pytorch_fixtures';
import {describeEachBackend} from '../support/backends';

function trainableParams(model: tfl.LayersModel): number {
  return model.trainableWeights.reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);
}

/** max |predicted - expected| / max |expected|. */
function relativeError(model: tfl.LayersModel, input: tf.Tensor, expected: tf.Tensor): number {
  return tf.tidy(() => {
    const y = model.predict(input) as tf.Tensor;
    expect(y.shape).to.deep.equal(expected.shape);
    return tf.max(tf.abs(tf.sub(y, expected))).dataSync()[0] / tf.max(tf.abs(expected)).dataSync()[0];
  });
}

describe('models: ResNet', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it("full width: parameter counts and state-dict names are torchvision's", () => {
    // torchvision's counts; state-dict entries without BatchNorm's num_batches_tracked.
    const cases = [
      {depth: 18 as const, params: 11689512, tensors: 122 - 20},
      {depth: 34 as const, params: 21797672, tensors: 218 - 36},
      {depth: 50 as const, params: 25557032, tensors: 320 - 53},
      {depth: 50 as const, head: 'pose' as const, params: 33999697, tensors: 338 - 56},
    ];
    for (const c of cases) {
      const model = resnet({depth: c.depth, head: c.head, weightInit: 'zeros'});
      try {
        expect(trainableParams(model), `${model.name} parameters`).to.equal(c.params);
        const mapping = resnetWeightMapping(model);
        expect(mapping.length, `${model.name} tensors`).to.equal(c.tensors);
        const names = mapping.map((m) => m.torch);
        expect(names).to.include.members([
          'conv1.weight',
          'bn1.running_var',
          'layer1.0.conv1.weight',
          'layer2.0.downsample.0.weight',
          'layer2.0.downsample.1.running_mean',
          'layer4.1.bn2.bias',
        ]);
        if (c.head === 'pose') {
          expect(names).to.include.members([
            'deconv_layers.0.weight',
            'deconv_layers.1.running_mean',
            'deconv_layers.7.bias',
            'final_layer.weight',
            'final_layer.bias',
          ]);
        } else {
          expect(names).to.include.members(['fc.weight', 'fc.bias']);
        }
      } finally {
        model.dispose();
      }
    }
  });

  it('reads the architecture from a state dict', () => {
    expect(resnetOptionsFromStateDict(loadPyTorchCheckpointSync(fixture('resnet50.pth')))).to.deep.equal({
      depth: 50,
      width: 4,
      head: 'classifier',
      numClasses: 10,
    });
    expect(resnetOptionsFromStateDict(loadPyTorchCheckpointSync(fixture('resnet18_pose.safetensors')))).to.deep.equal({
      depth: 18,
      width: 4,
      head: 'pose',
      joints: 17,
      deconvChannels: 8,
    });
  });

  it('names every missing, unexpected and mis-shaped tensor of a wrong checkpoint', () => {
    const model = resnet({depth: 50, width: 4, numClasses: 10});
    try {
      let error: StateDictMismatchError | null = null;
      try {
        loadResNetWeights(model, loadPyTorchCheckpointSync(fixture('resnet18_pose.safetensors')));
      } catch (e) {
        error = e as StateDictMismatchError;
      }
      expect(error).to.be.instanceOf(StateDictMismatchError);
      expect(error!.missing).to.include.members(['layer1.0.conv3.weight', 'layer3.5.bn1.weight', 'fc.weight']);
      expect(error!.unexpected).to.include.members(['deconv_layers.0.weight', 'final_layer.bias']);
      expect(error!.misShaped).to.deep.include({
        name: 'layer1.0.conv1.weight',
        expected: [4, 4, 1, 1],
        got: [4, 4, 3, 3],
      });
      expect(error!.message).to.match(
        /^loading ResNet weights into 'resnet50': the state dict does not match the model; \d+ missing: /,
      );
    } finally {
      model.dispose();
    }
  });

  it('saves and reloads through the file system', async () => {
    const model = await resnetFromCheckpoint(fixture('resnet18_pose.safetensors'));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-delta-resnet-'));
    try {
      await model.save(nodeFileSystem(dir));
      const loaded = await tfl.loadLayersModel(dir);
      const x = tf.randomUniform([1, 32, 24, 3], 0, 1, 'float32', 5);
      expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).to.deep.equal(
        Array.from((model.predict(x) as tf.Tensor).dataSync()),
      );
      loaded.dispose();
      x.dispose();
    } finally {
      fs.rmSync(dir, {recursive: true, force: true});
      model.dispose();
    }
  });
});

describeEachBackend('models: ResNet parity with PyTorch', (backend) => {
  strictFp32On(backend);
  const cases = [
    {file: 'resnet50.pth', io: 'resnet50_io.safetensors', what: 'ResNet-50 classifier, torch.save zip, 64x64'},
    {
      file: 'resnet18_pose.safetensors',
      io: 'resnet18_pose_io.safetensors',
      what: 'ResNet-18 + SimpleBaseline head, safetensors, 64x48',
    },
  ];
  for (const c of cases) {
    it(`matches PyTorch: ${c.what}`, async () => {
      const model = await resnetFromCheckpoint(fixture(c.file));
      const io = loadPyTorchCheckpointSync(fixture(c.io));
      const [input, expected] = [io.get('input')!.toTensor(), io.get('output')!.toTensor()];
      try {
        expect(relativeError(model, input, expected), `${c.file} relative error`).to.be.below(1e-4);
      } finally {
        tf.dispose([input, expected]);
        model.dispose();
      }
    });
  }
});

describe('models: delta ResNet', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('delta: true gives the delta twin, loadable from the same checkpoint, equal to dense at threshold 0', async () => {
    const dense = await resnetFromCheckpoint(fixture('resnet18_pose.safetensors'));
    const delta = await resnetFromCheckpoint(fixture('resnet18_pose.safetensors'), {delta: {threshold: 0}});
    try {
      expect(delta.layers.some((l) => l.getClassName() === 'DeltaConv2D')).to.equal(true);
      expect(delta.getLayer('layer1.0.conv1').getClassName()).to.equal('DeltaConv2D');
      const io = loadPyTorchCheckpointSync(fixture('resnet18_pose_io.safetensors'));
      const x0 = io.get('input')!.toTensor();
      const x1 = tf.tidy(() =>
        tf.add(x0, tf.mul(tf.cast(tf.greater(tf.randomUniform(x0.shape, 0, 1, 'float32', 9), 0.9), 'float32'), 0.3)),
      );
      for (const [i, x] of [x0, x1].entries()) {
        const want = dense.predict(x) as tf.Tensor;
        const got = delta.predictOnBatch(x) as tf.Tensor;
        const err = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0] / tf.max(tf.abs(want)).dataSync()[0]);
        expect(err, `frame ${i}`).to.be.below(1e-5);
        tf.dispose([want, got]);
      }
      tf.dispose([x0, x1]);
    } finally {
      delta.dispose();
      dense.dispose();
    }
  });
});
