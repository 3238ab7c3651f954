/**
 * Full-width parity and load times against PyTorch, on demand (the checkpoints are ~1.2 GB, so
 * they are not committed): `python3 scripts/make_torch_fixtures.py --full DIR` writes official-size
 * FLAVR 2x (zip training checkpoint with Adam state, ~505 MB) and 8x (legacy format), torchvision-
 * size ResNet-50 and ResNet-50 + pose head, with PyTorch's outputs; `TFJS_DELTA_TORCH_FULL=DIR
 * npm test` then runs this suite on TFJS_DELTA_FULL_BACKEND, or 'tensorflow' when tfjs-node is there
 * (FLAVR on 'cpu' takes minutes).
 */
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {flavrFromCheckpoint} from '../../src/models/flavr';
import {loadPyTorchCheckpointSync} from '../../src/models/pytorch/checkpoint';
import {resnetFromCheckpoint} from '../../src/models/resnet';
import {strictFp32On} from '../support/pytorch_fixtures';
import {PACKAGE_ROOT} from '../../src/io/package_root';
import {envString} from '../../src/io/env';

// Written by scripts/make-torch-references.sh (CI runs it), or any directory given by the variable.
const DEFAULT_DIR = path.join(PACKAGE_ROOT, '.cache', 'torch-full');
const DIR =
  envString('TFJS_DELTA_TORCH_FULL') ?? (fs.existsSync(path.join(DEFAULT_DIR, '.complete')) ? DEFAULT_DIR : undefined);

/** max |predicted - expected| / max |expected - reference| (reference: 0, or FLAVR's input mean). */
function relativeError(y: tf.Tensor, expected: tf.Tensor, reference: tf.Tensor | number = 0): number {
  return tf.tidy(
    () => tf.max(tf.abs(tf.sub(y, expected))).dataSync()[0] / tf.max(tf.abs(tf.sub(expected, reference))).dataSync()[0],
  );
}

describe('models at full width vs PyTorch (TFJS_DELTA_TORCH_FULL)', function () {
  let previous: string;
  before(async function () {
    if (DIR == null || !fs.existsSync(path.join(DIR, 'flavr2x.pth'))) {
      console.log(
        '    (skipped: no full-size PyTorch references; run scripts/make-torch-references.sh, or set ' +
          'TFJS_DELTA_TORCH_FULL to a directory written by make_torch_fixtures.py --full)',
      );
      this.skip();
    }
    previous = tf.getBackend();
    await tf.setBackend(
      envString('TFJS_DELTA_FULL_BACKEND') ?? (tf.findBackend('tensorflow') != null ? 'tensorflow' : 'cpu'),
    );
  });
  strictFp32On(envString('TFJS_DELTA_FULL_BACKEND') ?? '');
  after(async () => {
    if (previous != null) await tf.setBackend(previous);
  });

  for (const [file, io] of [
    ['flavr2x.pth', 'flavr2x_io.safetensors'],
    ['flavr8x_legacy.pth', 'flavr8x_io.safetensors'],
  ]) {
    it(`FLAVR ${file}: load time and parity`, async function () {
      this.timeout(30 * 60 * 1000);
      const t0 = Date.now();
      const model = await flavrFromCheckpoint(path.join(DIR!, file));
      const loadMs = Date.now() - t0;
      const sd = loadPyTorchCheckpointSync(path.join(DIR!, io));
      try {
        for (const key of [...sd.keys()].filter((k) => k.startsWith('input'))) {
          const x = sd.get(key)!.toTensor();
          const want = sd.get(key.replace('input', 'output'))!.toTensor();
          const t1 = Date.now();
          const y = model.predict(x) as tf.Tensor;
          const err = relativeError(y, want, tf.mean(x, [1, 2, 3], true));
          console.log(
            `      ${file} (${(fs.statSync(path.join(DIR!, file)).size / 1e6).toFixed(0)} MB): load ${loadMs} ms, ` +
              `${model.countParams()} parameters; [${x.shape}] on ${tf.getBackend()}: ${Date.now() - t1} ms, relative error ${err.toExponential(2)}`,
          );
          expect(err).to.be.below(1e-4);
          tf.dispose([x, want, y]);
        }
      } finally {
        model.dispose();
      }
    });
  }

  for (const [file, io] of [
    ['resnet50.pth', 'resnet50_io.safetensors'],
    ['resnet50_pose.pth', 'resnet50_pose_io.safetensors'],
  ]) {
    it(`ResNet ${file}: load time and parity`, async function () {
      this.timeout(10 * 60 * 1000);
      const t0 = Date.now();
      const model: tfl.LayersModel = await resnetFromCheckpoint(path.join(DIR!, file));
      const loadMs = Date.now() - t0;
      const sd = loadPyTorchCheckpointSync(path.join(DIR!, io));
      const [x, want] = [sd.get('input')!.toTensor(), sd.get('output')!.toTensor()];
      try {
        const y = model.predict(x) as tf.Tensor;
        const err = relativeError(y, want);
        console.log(
          `      ${file}: load ${loadMs} ms; [${x.shape}] -> [${y.shape}] on ${tf.getBackend()}: relative error ${err.toExponential(2)}`,
        );
        expect(err).to.be.below(1e-4);
        y.dispose();
      } finally {
        tf.dispose([x, want]);
        model.dispose();
      }
    });
  }
});
