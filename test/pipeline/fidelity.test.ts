/**
 * The fidelity metric: PCK of delta poses against dense ones, and classifier agreement, on crafted poses and logits.
 */
import {expect} from 'chai';

import type {Pose} from '../../src/models/posenet_decode';
import {classifierAgreement, posePck} from '../../src/pipeline/fidelity';

/** A pose of 17 keypoints around (cy, cx), spread over a 60-pixel box, every score `score`. */
function pose(cy: number, cx: number, score = 0.9): Pose {
  return {
    score,
    keypoints: Array.from({length: 17}, (_, k) => ({y: cy - 30 + (60 * k) / 16, x: cx + (k % 2 ? 10 : -10), score})),
  };
}

function moved(p: Pose, k: number, dy: number, dx: number): Pose {
  return {score: p.score, keypoints: p.keypoints.map((q, i) => (i === k ? {...q, y: q.y + dy, x: q.x + dx} : {...q}))};
}

describe('pipeline: fidelity of delta to dense', () => {
  // A 300 x 400 image: diagonal 500, so the 2% radius is 10 pixels.
  const [H, W] = [300, 400];

  it('identical poses give 100% PCK', () => {
    const dense = [pose(100, 100), pose(150, 300)];
    expect(
      posePck(
        dense,
        dense.map((p) => moved(p, 0, 0, 0)),
        H,
        W,
      ),
    ).to.deep.equal({correct: 34, total: 34, pck: 1});
  });

  it('a keypoint just inside the radius counts, just outside does not', () => {
    const dense = [pose(100, 100)];
    expect(posePck(dense, [moved(dense[0], 3, 6, 7.99)], H, W).correct).to.equal(17); // 9.99 px
    expect(posePck(dense, [moved(dense[0], 3, 6, 8.01)], H, W).correct).to.equal(16); // 10.01 px
    expect(posePck(dense, [moved(dense[0], 3, 6, 8.01)], H, W, {radius: 0.03}).correct).to.equal(17);
  });

  it('only keypoints the dense model is confident about count', () => {
    const dense = [pose(100, 100)];
    dense[0].keypoints[4].score = 0.5; // not above 0.5
    dense[0].keypoints[5].score = 0.2;
    const delta = [moved(moved(dense[0], 4, 50, 0), 5, 50, 0)];
    expect(posePck(dense, delta, H, W)).to.deep.equal({correct: 15, total: 15, pck: 1});
    const noneConfident = [pose(100, 100, 0.3)];
    expect(posePck(noneConfident, [], H, W)).to.deep.equal({correct: 0, total: 0, pck: undefined});
  });

  it('pairs poses by nearest centre whatever their order, and counts a missing pose as misses', () => {
    const dense = [pose(100, 100), pose(150, 300)];
    expect(posePck(dense, [pose(150, 300), pose(100, 100)], H, W).pck).to.equal(1);
    expect(posePck(dense, [pose(150, 300), pose(100, 100)], H, W, {match: 'order'}).pck).to.equal(0);
    expect(posePck(dense, [pose(150, 302)], H, W)).to.deep.equal({correct: 17, total: 34, pck: 0.5});
    // A delta pose that lost confidence keeps its place: scores of the delta model do not matter.
    expect(posePck(dense, [pose(150, 300, 0.1), pose(100, 100, 0.1)], H, W).pck).to.equal(1);
  });

  it('classifiers: top-1 agreement and the largest relative logit error', () => {
    const dense = [1, 5, 2, /**/ -3, -1, -2, /**/ 0, 0.5, 0.4];
    const delta = [1, 4.9, 2, /**/ -3, -2.5, -2, /**/ 0, 0.4, 0.45];
    const r = classifierAgreement(dense, delta, 3);
    expect(r.rows).to.equal(3);
    expect(r.top1Agreement).to.be.closeTo(1 / 3, 1e-12); // row 2 moves to class 2, row 3 to class 2
    expect(r.maxRelError).to.be.closeTo(1.5 / 3, 1e-12);
    expect(classifierAgreement(dense, dense, 3)).to.deep.equal({rows: 3, top1Agreement: 1, maxRelError: 0});
    expect(() => classifierAgreement(dense, delta.slice(1), 3)).to.throw(/do not form rows of 3/);
  });
});
