/**
 * Whole LayersModels on 'cuda' against 'cpu' (random weights): a conv-bn-relu-pool-dense classifier, a small
 * residual 2-D net with depthwise / transposed convs / upsampling / concatenation, and a small 3-D net
 * (conv3d, pooling, conv3dTranspose). Strict kernels: a model that needs a CPU fallback fails here.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {setCudaOptions} from '../../../src/backends/cuda/index';
import type {CudaBackend} from '../../../src/backends/cuda/backend';
import {describeCuda, expectParity, rand} from '../../support/cuda';

function classifier(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({inputShape: [32, 32, 3], filters: 16, kernelSize: 3, padding: 'same'}));
  m.add(tfl.layers.batchNormalization());
  m.add(tfl.layers.activation({activation: 'relu'}));
  m.add(tfl.layers.maxPooling2d({poolSize: 2}));
  m.add(tfl.layers.conv2d({filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu'}));
  m.add(tfl.layers.averagePooling2d({poolSize: 2}));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({units: 10, activation: 'softmax'}));
  return m;
}

function residual2d(): tfl.LayersModel {
  const input = tfl.input({shape: [24, 20, 8]});
  const a = tfl.layers
    .conv2d({filters: 8, kernelSize: 3, padding: 'same', activation: 'relu'})
    .apply(input) as tfl.SymbolicTensor;
  const b = tfl.layers
    .depthwiseConv2d({kernelSize: 3, padding: 'same', depthMultiplier: 1})
    .apply(a) as tfl.SymbolicTensor;
  const sum = tfl.layers.add().apply([input, b]) as tfl.SymbolicTensor;
  const bn = tfl.layers.batchNormalization().apply(sum) as tfl.SymbolicTensor;
  const act = tfl.layers.leakyReLU({alpha: 0.2}).apply(bn) as tfl.SymbolicTensor;
  const down = tfl.layers
    .conv2d({filters: 16, kernelSize: 3, strides: 2, padding: 'same'})
    .apply(act) as tfl.SymbolicTensor;
  const up = tfl.layers
    .conv2dTranspose({filters: 8, kernelSize: 4, strides: 2, padding: 'same'})
    .apply(down) as tfl.SymbolicTensor;
  const ups = tfl.layers.upSampling2d({size: [2, 2], interpolation: 'bilinear'}).apply(down) as tfl.SymbolicTensor;
  const cat = tfl.layers.concatenate().apply([up, act, ups]) as tfl.SymbolicTensor;
  const pad = tfl.layers.zeroPadding2d({padding: 1}).apply(cat) as tfl.SymbolicTensor;
  const out = tfl.layers.conv2d({filters: 3, kernelSize: 3, activation: 'sigmoid'}).apply(pad) as tfl.SymbolicTensor;
  return tfl.model({inputs: input, outputs: out});
}

function small3d(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv3d({inputShape: [4, 16, 16, 3], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu'}),
  );
  m.add(tfl.layers.maxPooling3d({poolSize: [1, 2, 2]}));
  m.add(tfl.layers.conv3d({filters: 16, kernelSize: [3, 3, 3], strides: [1, 2, 2], padding: 'same'}));
  m.add(tfl.layers.leakyReLU({alpha: 0.2}));
  m.add(tfl.layers.conv3dTranspose({filters: 8, kernelSize: [3, 4, 4], strides: [1, 2, 2], padding: 'same'}));
  m.add(tfl.layers.averagePooling3d({poolSize: [2, 1, 1]}));
  return m;
}

describeCuda('cuda backend: LayersModel predict parity', () => {
  const cases: Array<[string, () => tfl.LayersModel, number[]]> = [
    ['conv-bn-relu-pool-dense classifier', classifier, [3, 32, 32, 3]],
    ['residual 2-D net (depthwise, transpose, upsampling, concat, zero padding)', residual2d, [2, 24, 20, 8]],
    ['3-D net (conv3d, pooling3d, conv3dTranspose)', small3d, [2, 4, 16, 16, 3]],
  ];
  for (const [name, build, shape] of cases) {
    it(name, async () => {
      await tf.setBackend('cpu');
      const model = build();
      // Non-trivial batch-norm statistics, so the layer does more than pass through.
      for (const layer of model.layers)
        if (layer.getClassName() === 'BatchNormalization')
          layer.setWeights(
            layer
              .getWeights()
              .map((w, i) => tf.tensor(rand(w.shape, i === 3 ? 0.5 : -0.5, i === 3 ? 2 : 0.5).values, w.shape)),
          );
      const x = rand(shape);
      setCudaOptions({allowTF32: false});
      await expectParity(`${name} fp32`, [x], (t) => model.predict(t) as tf.Tensor, 1e-4, 1e-5);
      setCudaOptions({allowTF32: true});
      await expectParity(`${name} tf32`, [x], (t) => model.predict(t) as tf.Tensor, 2e-2, 1e-3);
      // Depthwise layers on the other path too (depthwise.cu or cuDNN, whichever is not the default).
      const cuda = tf.findBackend('cuda') as CudaBackend;
      const ownDepthwise = cuda.ownDepthwise;
      cuda.ownDepthwise = !ownDepthwise;
      setCudaOptions({allowTF32: false});
      try {
        await expectParity(
          `${name} fp32, depthwise on ${ownDepthwise ? 'cuDNN' : 'depthwise.cu'}`,
          [x],
          (t) => model.predict(t) as tf.Tensor,
          1e-4,
          1e-5,
        );
      } finally {
        cuda.ownDepthwise = ownDepthwise;
        setCudaOptions({allowTF32: true});
      }
      await tf.setBackend('cpu');
      model.dispose();
    });
  }

  it('1,000 predict calls leave numTensors and GPU bytes where they started', async () => {
    await tf.setBackend('cpu');
    const model = classifier();
    await tf.setBackend('cuda');
    const x = tf.tensor4d(rand([2, 32, 32, 3]).values, [2, 32, 32, 3]);
    (model.predict(x) as tf.Tensor).dispose(); // warm-up: weights move to the GPU, filters get their cuDNN layout
    const before = tf.memory() as tf.MemoryInfo & {numBytesInGPU: number};
    for (let i = 0; i < 1000; i++) {
      const y = model.predict(x) as tf.Tensor;
      if (i % 100 === 0) await y.data();
      y.dispose();
    }
    const after = tf.memory() as tf.MemoryInfo & {numBytesInGPU: number};
    expect(after.numTensors, 'numTensors').to.equal(before.numTensors);
    expect(after.numBytesInGPU, 'GPU bytes in use').to.equal(before.numBytesInGPU);
    x.dispose();
    model.dispose();
  });
});
