/**
 * deltaSparsify against a dense composition of tf ops (difference, max over channels, a max pool for the
 * neighbourhood, a select), on frames whose changes are sparse spikes over small noise, so that the threshold and
 * the dilation both decide; plus the stream invariant (no pixel of what was sent is more than the threshold from
 * the frame) and the errors.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {deltaSparsify, isDense} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {
  expectClose,
  expectMask,
  expectThrowsNaming,
  expectZerosWhereInactive,
  freshSeed,
  pick,
  randInt,
  randn,
} from '../support/util';

/** What deltaSparsify should return, from dense tf ops. */
function reference(frame: tf.Tensor, sent: tf.Tensor, threshold: number, dilation: number) {
  return tf.tidy(() => {
    const d = tf.sub(frame, sent);
    let largest = tf.max(tf.abs(d), -1, true);
    if (dilation > 1) largest = tf.maxPool(largest as tf.Tensor4D, dilation, 1, 'same');
    const send = tf.greater(largest, threshold);
    return {
      delta: tf.where(send, d, tf.zerosLike(d)),
      sent: tf.where(send, tf.add(sent, d), sent),
      mask: tf.squeeze(send, [-1]),
    };
  });
}

/** A frame that differs from `sent` by noise below 0.1 everywhere and by spikes of about 1 at `fraction` of its pixels. */
function nextFrame(sent: tf.Tensor, fraction: number, seed: number): tf.Tensor {
  return tf.tidy(() => {
    const shape = sent.shape;
    const noise = tf.mul(tf.randomUniform(shape, -0.1, 0.1, 'float32', seed), 1);
    const spikes = tf.cast(
      tf.less(tf.randomUniform([...shape.slice(0, -1), 1], 0, 1, 'float32', seed + 1), fraction),
      'float32',
    );
    return tf.add(tf.add(sent, noise), tf.mul(spikes, randn(shape, seed + 2)));
  });
}

/** deltaSparsify of `frame` against `sent` equals the reference exactly: mask, zeros where inactive, delta, state. */
function expectSparsified(frame: tf.Tensor, sent: tf.Tensor, threshold: number, dilation: number, ctx: string) {
  const want = reference(frame, sent, threshold, dilation);
  const got = deltaSparsify(frame, sent, {threshold, dilation});
  expectMask(got.delta, want.mask, ctx);
  expectZerosWhereInactive(got.delta, ctx);
  expectClose(got.delta, want.delta, `${ctx}: delta`, 0, 0);
  expectClose(got.sent, want.sent, `${ctx}: sent`, 0, 0);
  return {want, got};
}

describeEachBackend('deltaSparsify parity with the dense composition', () => {
  for (const dilation of [1, 3, 5, 15]) {
    for (const threshold of [0, 0.3]) {
      // Every lane-group width of the 'cuda' kernels (up to four channels a lane: 1, 2, 4, 8, 16 and 32 lanes).
      for (const channels of [1, 3, 4, 6, 12, 24, 33, 80]) {
        const name = `dilation ${dilation} threshold ${threshold} ${channels} channel(s)`;
        it(name, () => {
          const seed = freshSeed();
          // Odd sizes, images narrower and shorter than the window, batch > 1.
          const shape = [pick([1, 2, 3]), randInt(1, 23), randInt(1, 41), channels];
          const ctx = `${name} shape [${shape}] seed ${seed}`;
          tf.tidy(() => {
            const sent = randn(shape, seed, 2);
            const frame = nextFrame(sent, 0.04, seed + 10);
            const got = expectSparsified(frame, sent, threshold, dilation, ctx).got;
            expect(isDense(got.sent), `${ctx}: the state is dense`).to.equal(true);
            // The untouched state input still holds the old frame (not in place).
            expectClose(sent, randn(shape, seed, 2), `${ctx}: input state unchanged`, 0, 0);
          });
        });
      }
    }
  }

  // Frames larger than 'cuda''s tiles of the dilated test (32 x 8, and 64 x 32 where TFJS_DELTA_CUDA_SPARSIFY_WIDE_TILES=1
  // forces them; by default only grids that fill the GPU take those) in both directions, so that moved pixels near a
  // tile's edge must dilate into the next tile; a frame's 1-4 channels (the tile kernels) and 5 (the three passes);
  // dilation 71 is beyond the wide tile's radius (the narrow tile then).
  for (const tiles of ['narrow', 'wide']) {
    for (const dilation of tiles === 'wide' ? [3, 7, 15, 71] : [3, 7, 15]) {
      for (const channels of [1, 3, 4, 5]) {
        const name = `dilation ${dilation}, ${channels} channel(s), frames of several ${tiles} tiles`;
        it(name, () => {
          const seed = freshSeed();
          const shape =
            tiles === 'wide'
              ? [pick([1, 2]), randInt(40, 75), randInt(130, 200), channels]
              : [pick([1, 2, 3]), randInt(17, 45), randInt(65, 140), channels];
          const ctx = `${name} shape [${shape}] seed ${seed}`;
          const was = process.env.TFJS_DELTA_CUDA_SPARSIFY_WIDE_TILES;
          process.env.TFJS_DELTA_CUDA_SPARSIFY_WIDE_TILES = tiles === 'wide' ? '1' : '0';
          try {
            tf.tidy(() => {
              const sent = randn(shape, seed, 2);
              // Spikes of 1 on both sides of the tiles' edges (narrow: x 31 | 32, 63 | 64, y 7 | 8, 15 | 16; wide: x 63 |
              // 64, 127 | 128, y 31 | 32), and at random.
              const edges = tf.buffer(shape);
              const points =
                tiles === 'wide'
                  ? [
                      [31, 63],
                      [32, 64],
                      [31, 128],
                      [32, 127],
                      [63, 63],
                    ]
                  : [
                      [7, 31],
                      [8, 31],
                      [16, 31],
                      [6, 64],
                      [7, 64],
                      [15, 64],
                    ];
              for (let b = 0; b < shape[0]; b++)
                for (const [y, x] of points) if (y < shape[1] && x < shape[2]) edges.set(1, b, y, x, 0);
              const frame = tf.add(nextFrame(sent, 0.3 / (dilation * dilation), seed + 10), edges.toTensor());
              const {want} = expectSparsified(frame, sent, 0.3, dilation, ctx);
              // Some pixels held, else the test proves nothing about the dilation's reach.
              if (dilation < 71)
                expect(tf.min(tf.cast(want.mask, 'float32')).dataSync()[0], `${ctx}: a pixel held`).to.equal(0);
            });
          } finally {
            if (was === undefined) delete process.env.TFJS_DELTA_CUDA_SPARSIFY_WIDE_TILES;
            else process.env.TFJS_DELTA_CUDA_SPARSIFY_WIDE_TILES = was;
          }
        });
      }
    }
  }

  it('rank 2 ([pixels, channels]) without dilation', () => {
    const seed = freshSeed();
    tf.tidy(() => {
      const sent = randn([randInt(1, 300), randInt(1, 9)], seed);
      const frame = nextFrame(sent, 0.1, seed + 1);
      const got = deltaSparsify(frame, sent, {threshold: 0.2});
      const want = tf.tidy(() =>
        reference(tf.reshape(frame, [1, 1, ...frame.shape]), tf.reshape(sent, [1, 1, ...sent.shape]), 0.2, 1),
      );
      expectMask(got.delta, want.mask, `seed ${seed}`);
      expectClose(got.delta, tf.squeeze(want.delta, [0, 1]), `seed ${seed}: delta`, 0, 0);
      expectClose(got.sent, tf.squeeze(want.sent, [0, 1]), `seed ${seed}: sent`, 0, 0);
    });
  });

  for (const dilation of [1, 7]) {
    it(`a stream of 40 frames in place (dilation ${dilation}): what was sent never strays more than the threshold`, () => {
      const seed = freshSeed();
      const shape = [2, randInt(9, 31), randInt(9, 47), 3];
      const threshold = 0.15;
      let sent = randn(shape, seed);
      let frame = sent.clone();
      let sentPixels = 0;
      try {
        for (let i = 0; i < 40; i++) {
          const next = nextFrame(frame, 0.02, seed + 3 * i + 1);
          frame.dispose();
          frame = next;
          const want = reference(frame, sent, threshold, dilation);
          const got = deltaSparsify(frame, sent, {threshold, dilation, inPlace: true}); // owns `sent`
          const ctx = `frame ${i} shape [${shape}] seed ${seed}`;
          expectMask(got.delta, want.mask, ctx);
          expectClose(got.sent, want.sent, `${ctx}: sent`, 0, 0);
          expectClose(got.delta, want.delta, `${ctx}: delta`, 0, 0);
          sentPixels += tf.tidy(() => tf.sum(tf.cast(want.mask, 'int32')).arraySync() as number);
          const stray = tf.tidy(() => tf.max(tf.abs(tf.sub(frame, got.sent))).arraySync() as number);
          expect(stray, `${ctx}: max |frame - sent|`).to.be.at.most(threshold * (1 + 1e-6));
          tf.dispose([want.delta, want.sent, want.mask, got.delta]);
          if (got.sent !== sent) sent.dispose();
          sent = got.sent;
        }
        // Noise alone accumulates past the threshold now and then: the test saw sent and held pixels both.
        expect(sentPixels, 'pixels sent over the stream').to.be.above(0);
        expect(sentPixels, 'pixels sent over the stream').to.be.below((40 * sent.size) / 3);
      } finally {
        tf.dispose([sent, frame]);
      }
    });
  }

  it('names the op, the argument and the shape on bad input', () => {
    const x = tf.zeros([1, 4, 5, 3]);
    try {
      expectThrowsNaming(() => deltaSparsify(x, tf.zeros([1, 4, 5, 2])), 'deltaSparsify', "'sent'", '[1,4,5,2]');
      expectThrowsNaming(() => deltaSparsify(x, x, {dilation: 2}), 'deltaSparsify', "'dilation'", '2');
      expectThrowsNaming(() => deltaSparsify(x, x, {threshold: -1}), 'deltaSparsify', "'threshold'");
      expectThrowsNaming(
        () => deltaSparsify(tf.zeros([4, 5, 3]), tf.zeros([4, 5, 3]), {dilation: 3}),
        'deltaSparsify',
        'NHWC',
        '[4,5,3]',
      );
      expectThrowsNaming(() => deltaSparsify(tf.zeros([3]), tf.zeros([3])), 'deltaSparsify', "'frame'", '[3]');
    } finally {
      x.dispose();
    }
  });
});
