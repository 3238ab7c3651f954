/**
 * The overlay: decoded PoseNet skeletons drawn on the bodies, captions, and dense / delta side by side.
 * Poses come from PoseNet's real outputs on vtest.avi frames (test/fixtures/posenet_decode.json) drawn on
 * those frames (ffmpeg and vtest.avi: scripts/fetch-test-data.sh; the frame tests skip, saying so, without them).
 */
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import type {Pose} from '../../src/models/posenet_decode';
import {posesOf} from '../../src/pipeline/fidelity';
import {ffmpegUnavailableReason, readFrames} from '../../src/pipeline/ffmpeg';
import {drawCaption, drawPoses, overlayFrame, sideBySide} from '../../src/pipeline/overlay';
import {PACKAGE_ROOT} from '../../src/io/package_root';

const VIDEO = process.env.TFJS_DELTA_VTEST ?? '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const FIXTURE = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'posenet_decode.json');
const KEYPOINT = [255, 0, 64];

const pixel = (f: Uint8Array, w: number, y: number, x: number) =>
  Array.from(f.subarray((y * w + x) * 3, (y * w + x + 1) * 3));

/** Pixels that differ between two frames of the same size, as [y, x]. */
function changed(a: Uint8Array, b: Uint8Array, w: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < a.length; i += 3) {
    if (a[i] !== b[i] || a[i + 1] !== b[i + 1] || a[i + 2] !== b[i + 2]) out.push([Math.floor(i / 3 / w), (i / 3) % w]);
  }
  return out;
}

describe('pipeline: overlay', () => {
  it('puts two frames side by side, the first on the left', () => {
    const [w, h] = [5, 3];
    const left = Uint8Array.from({length: w * h * 3}, (_, i) => i % 256);
    const right = Uint8Array.from({length: w * h * 3}, (_, i) => 255 - (i % 256));
    const both = sideBySide(left, right, w, h);
    expect(both.length).to.equal(2 * w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        expect(pixel(both, 2 * w, y, x)).to.deep.equal(pixel(left, w, y, x));
        expect(pixel(both, 2 * w, y, w + x)).to.deep.equal(pixel(right, w, y, x));
      }
    }
  });

  it('draws keypoints scoring above 0.5 and the limbs between them, nothing else', () => {
    const [w, h] = [100, 80];
    const blank = new Uint8Array(w * h * 3);
    const keypoints = Array.from({length: 17}, () => ({y: 0, x: 0, score: 0.1}));
    keypoints[5] = {y: 20, x: 30, score: 0.9}; // left shoulder
    keypoints[7] = {y: 50, x: 30, score: 0.8}; // left elbow: a limb to the shoulder
    keypoints[9] = {y: 70, x: 60, score: 0.5}; // left wrist: not confident, no limb to the elbow
    const frame = Uint8Array.from(blank);
    drawPoses(frame, w, h, [{score: 0.5, keypoints}]);
    expect(pixel(frame, w, 20, 30)).to.deep.equal(KEYPOINT);
    expect(pixel(frame, w, 50, 30)).to.deep.equal(KEYPOINT);
    expect(pixel(frame, w, 35, 30), 'the limb between them').to.not.deep.equal([0, 0, 0]);
    expect(pixel(frame, w, 70, 60), 'a keypoint scoring 0.5').to.deep.equal([0, 0, 0]);
    expect(pixel(frame, w, 60, 45), 'no limb to it').to.deep.equal([0, 0, 0]);
    expect(changed(frame, blank, w).every(([y, x]) => Math.abs(x - 30) <= 3 && y >= 17 && y <= 53)).to.equal(true);
    const shifted = Uint8Array.from(blank);
    drawPoses(shifted, w, h, [{score: 0.5, keypoints}], 0.5, 40);
    expect(pixel(shifted, w, 20, 70)).to.deep.equal(KEYPOINT);
  });

  it('writes captions as text in a dark box in the corner, leaving the rest of the frame alone', () => {
    const [w, h] = [320, 240];
    const grey = new Uint8Array(w * h * 3).fill(128);
    const frame = Uint8Array.from(grey);
    drawCaption(frame, w, h, ['delta  12.3 frames/s', 'PCK 97.5% of 40 keypoints']);
    const diff = changed(frame, grey, w);
    const box = {h: Math.max(...diff.map((d) => d[0])) + 1, w: Math.max(...diff.map((d) => d[1])) + 1};
    expect(box.h).to.be.within(20, 60);
    expect(box.w).to.be.within(100, w);
    let bright = 0,
      dark = 0;
    for (const [y, x] of diff) {
      const v = frame[(y * w + x) * 3];
      if (v > 200) bright++;
      if (v < 70) dark++;
    }
    expect(bright, 'text pixels').to.be.greaterThan(150);
    expect(dark, 'the box behind the text').to.be.greaterThan((box.h * box.w) / 3);
  });

  describe("on vtest.avi with PoseNet's decoded poses", () => {
    const frames: Array<{image: Uint8Array; poses: Pose[]}> = [];
    let size: [number, number];

    before(async function () {
      const why = ffmpegUnavailableReason() ?? (fs.existsSync(VIDEO) ? null : `${VIDEO} missing`);
      if (why != null) {
        console.log(`      skipped: ${why} (scripts/fetch-test-data.sh)`);
        this.skip();
      }
      await tf.setBackend('cpu');
      const fixture = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
      const [h, w] = fixture.inputSize as [number, number];
      size = [h, w];
      const wanted = new Map<number, Array<tf.Tensor>>();
      for (const c of fixture.cases) {
        const m = /^vtest.avi frame (\d+)$/.exec(c.name);
        if (m == null) continue;
        wanted.set(
          Number(m[1]),
          [c.heatmaps, c.offsets, c.displacementsFwd, c.displacementsBwd].map((s: string) => {
            const b = Buffer.from(s, 'base64');
            const v = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
            return tf.tensor4d(v, [1, c.height, c.width, v.length / (c.height * c.width)]);
          }),
        );
      }
      let index = 0;
      for await (const image of readFrames(VIDEO, {width: w, height: h, maxFrames: Math.max(...wanted.keys()) + 1})) {
        const outputs = wanted.get(index++);
        if (outputs) frames.push({image, poses: posesOf(outputs, h, w)});
      }
      tf.dispose([...wanted.values()].flat());
    });

    it('draws every confident keypoint of every pose, on a person (dark clothes, not the grey road or green grass)', () => {
      const [h, w] = size;
      let confident = 0,
        onPerson = 0;
      for (const {image, poses} of frames) {
        const canvas = overlayFrame(image, w, h, [{poses, caption: []}]);
        for (const pose of poses) {
          for (const k of pose.keypoints.filter((p) => p.score > 0.5)) {
            const [y, x] = [Math.round(k.y), Math.round(k.x)];
            expect(pixel(canvas, w, y, x)).to.deep.equal(KEYPOINT);
            confident++;
            // Within 3 pixels of the keypoint, the original frame has a pixel darker than the road and the grass.
            let darkest = 255;
            for (let dy = -3; dy <= 3; dy++) {
              for (let dx = -3; dx <= 3; dx++) {
                const yy = Math.min(h - 1, Math.max(0, y + dy)),
                  xx = Math.min(w - 1, Math.max(0, x + dx));
                darkest = Math.min(darkest, Math.max(...pixel(image, w, yy, xx)));
              }
            }
            if (darkest < 90) onPerson++;
          }
        }
      }
      expect(confident).to.be.greaterThan(20);
      expect(onPerson / confident).to.be.greaterThan(0.9);
    });

    it('dense left, delta right: twice as wide, each half the single-panel overlay of the same frame', () => {
      const [h, w] = size;
      const {image, poses} = frames[0];
      const deltaPoses = poses.slice(1); // a delta model that lost a person
      const both = overlayFrame(image, w, h, [
        {poses, caption: ['dense  2.0 frames/s']},
        {poses: deltaPoses, caption: ['delta  5.0 frames/s', 'PCK 66.7% of 30 keypoints']},
      ]);
      expect(both.length).to.equal(2 * w * h * 3);
      const dense = overlayFrame(image, w, h, [{poses, caption: ['dense  2.0 frames/s']}]);
      const delta = overlayFrame(image, w, h, [
        {poses: deltaPoses, caption: ['delta  5.0 frames/s', 'PCK 66.7% of 30 keypoints']},
      ]);
      expect(Buffer.from(both).equals(Buffer.from(sideBySide(dense, delta, w, h)))).to.equal(true);
      expect(Buffer.from(dense).equals(Buffer.from(delta)), 'the halves differ').to.equal(false);
      const lost = poses[0].keypoints.find((k) => k.score > 0.5)!;
      expect(pixel(both, 2 * w, Math.round(lost.y), Math.round(lost.x))).to.deep.equal(KEYPOINT);
      expect(pixel(both, 2 * w, Math.round(lost.y), w + Math.round(lost.x))).to.deep.equal(
        pixel(image, w, Math.round(lost.y), Math.round(lost.x)),
      );
    });
  });
});
