/**
 * Our PoseNet decoder against the reference, @tensorflow-models/posenet's decodeMultiplePoses and
 * decodeSinglePose, on PoseNet's real outputs for vtest.avi frames and on random outputs
 * (test/fixtures/posenet_decode.json, made by scripts/make-posenet-decode-fixture.js).
 */
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {
  decodeMultiplePoses,
  decodeSinglePose,
  Pose,
  posenetInputSize,
  posenetMaps,
} from '../../src/models/posenet_decode';
import {PACKAGE_ROOT} from '../../src/io/package_root';

interface FixtureCase {
  name: string;
  height: number;
  width: number;
  heatmaps: string;
  offsets: string;
  displacementsFwd: string;
  displacementsBwd: string;
  reference: {
    single: Pose;
    multi: Array<{
      options: {outputStride: number; maxDetections: number; scoreThreshold: number; nmsRadius: number};
      poses: Pose[];
    }>;
  };
}

const FIXTURE = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'posenet_decode.json');

function tensor(b64: string, h: number, w: number): tf.Tensor4D {
  const b = Buffer.from(b64, 'base64');
  return tf.tensor4d(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)), [
    1,
    h,
    w,
    b.length / 4 / (h * w),
  ]);
}

function expectSamePoses(got: Pose[], want: Pose[], what: string): void {
  expect(got.length, `${what}: number of poses`).to.equal(want.length);
  got.forEach((pose, i) => {
    expect(Math.abs(pose.score - want[i].score), `${what}: pose ${i} score`).to.be.below(1e-5);
    pose.keypoints.forEach((k, j) => {
      const r = want[i].keypoints[j];
      const where = `${what}: pose ${i} keypoint ${j}`;
      expect(Math.abs(k.y - r.y), `${where} y ${k.y} vs ${r.y}`).to.be.below(1e-3);
      expect(Math.abs(k.x - r.x), `${where} x ${k.x} vs ${r.x}`).to.be.below(1e-3);
      expect(Math.abs(k.score - r.score), `${where} score`).to.be.below(1e-5);
    });
  });
}

describe('models: PoseNet decoding against @tensorflow-models/posenet', () => {
  const fixture = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as {cases: FixtureCase[]};

  before(async () => {
    await tf.setBackend('cpu');
  });

  it('the fixture holds real multi-person frames, not only empty ones', () => {
    const found = fixture.cases.filter((c) => c.name.startsWith('vtest')).map((c) => c.reference.multi[1].poses.length);
    expect(found.length).to.be.at.least(3);
    expect(found.reduce((a, b) => a + b, 0)).to.be.at.least(6);
  });

  for (const c of fixture.cases) {
    describe(c.name, () => {
      let outputs: tf.Tensor4D[];
      before(() => {
        outputs = [c.heatmaps, c.offsets, c.displacementsFwd, c.displacementsBwd].map((s) =>
          tensor(s, c.height, c.width),
        );
      });
      after(() => tf.dispose(outputs));

      for (const [i, setting] of c.reference.multi.entries()) {
        const {outputStride, maxDetections, scoreThreshold, nmsRadius} = setting.options;
        it(`multi-person, max ${maxDetections}, score >= ${scoreThreshold}, NMS radius ${nmsRadius}: the reference's poses`, () => {
          const poses = decodeMultiplePoses(posenetMaps(outputs), {
            outputStride,
            maxDetections,
            scoreThreshold,
            nmsRadius,
          });
          expectSamePoses(poses, c.reference.multi[i].poses, c.name);
        });
      }

      it("single-person: the reference's pose", () => {
        expectSamePoses([decodeSinglePose(posenetMaps(outputs), 16)], [c.reference.single], c.name);
      });
    });
  }

  it('rejects outputs that do not fit together', () => {
    const maps = {
      height: 2,
      width: 2,
      scores: new Float32Array(68),
      offsets: new Float32Array(60),
      displacementsFwd: new Float32Array(128),
      displacementsBwd: new Float32Array(128),
    };
    expect(() => decodeMultiplePoses(maps)).to.throw(/do not fit a 2x2 grid/);
  });

  it("picks input sizes of 16k + 1 pixels with the frame's aspect", () => {
    expect(posenetInputSize(576, 768)).to.deep.equal([289, 385]);
    expect(posenetInputSize(100, 80)).to.deep.equal([97, 81]);
    expect(posenetInputSize(1080, 1920, 513)).to.deep.equal([289, 513]);
  });
});
