/**
 * fromGraphModel on small graph models written in memory (test/support/graph_builder.ts), one per
 * family of ops it accepts, with fresh random weights and shapes (odd sizes, batch > 1): the
 * LayersModel's outputs equal GraphModel.execute's (max abs error <= 1e-5 of the output's largest
 * value), and toDelta of the graph model at threshold 0 equals the dense LayersModel over a random
 * frame sequence (<= 1e-4, the delta suites' tolerance). Also: the error for a node it cannot
 * express, the converted tail it offers, and save / load of the converted and delta models.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {GraphModel} from '@tensorflow/tfjs-converter';
import {expect} from 'chai';

import {fromGraphModel, toDelta} from '../../src/index';
import {describeEachBackend} from '../support/backends';
import {attr, GraphBuilder, nodes} from '../support/graph_builder';
import {nextFrame} from '../support/sequences';
import {freshSeed, pick, randn} from '../support/util';

interface Shape {
  batch: number;
  h: number;
  w: number;
  c: number;
}

interface Case {
  title: string;
  /** Builds the graph on input `x`; returns its outputs. */
  build: (g: GraphBuilder, x: string, s: Shape, seed: number) => string[];
  /** Layer classes the conversion must use (so the case tests the path it names). */
  classes: string[];
  /** The graph takes int32 pixels and batch 1 only. */
  intInput?: boolean;
}

const CASES: Case[] = [
  {
    title: 'Conv2D with BiasAdd / Add bias and Relu6 folded in; strided, dilated, EXPLICIT padding',
    classes: ['Conv2D', 'ZeroPadding2D'],
    build: (g, x, s, seed) => {
      const n = nodes(g);
      const a = n.unary(
        'Relu6',
        n.binary('BiasAdd', n.conv(x, randn([3, 3, s.c, 8], seed), 2), g.constant(randn([8], seed + 1))),
      );
      const b = n.binary(
        'Add',
        n.conv(a, randn([3, 3, 8, 6], seed + 2, 0.3), 1, 'SAME', 2),
        g.constant(randn([6], seed + 3)),
      );
      const c = g.op('Conv2D', [b, g.constant(randn([3, 2, 6, 4], seed + 4, 0.3))], {
        strides: attr.ints([1, 1, 1, 1]),
        padding: attr.str('EXPLICIT'),
        explicit_paddings: attr.ints([0, 0, 1, 2, 2, 1, 0, 0]),
        dilations: attr.ints([1, 1, 1, 1]),
      });
      return [c, a];
    },
  },
  {
    title: '_FusedConv2D with BiasAdd and Relu, LeakyRelu, Elu or nothing (then a Sigmoid folded in)',
    classes: ['Conv2D', 'LeakyReLU'],
    build: (g, x, s, seed) => {
      const n = nodes(g);
      const a = n.fusedConv(x, randn([3, 3, s.c, 6], seed), randn([6], seed + 1), ['BiasAdd', 'Relu'], 2);
      const b = n.fusedConv(a, randn([3, 3, 6, 6], seed + 2, 0.3), randn([6], seed + 3), ['BiasAdd', 'LeakyRelu'], 1, {
        leakyrelu_alpha: attr.float(0.15),
      });
      const c = n.fusedConv(b, randn([1, 1, 6, 5], seed + 4), randn([5], seed + 5), ['BiasAdd', 'Elu']);
      return [n.unary('Sigmoid', n.fusedConv(c, randn([3, 3, 5, 3], seed + 6), randn([3], seed + 7), ['BiasAdd']))];
    },
  },
  {
    title: 'DepthwiseConv2dNative (multiplier 2) with Add bias and Relu, FusedDepthwiseConv2dNative with Relu6',
    classes: ['DepthwiseConv2D'],
    build: (g, x, s, seed) => {
      const n = nodes(g);
      const a = n.unary(
        'Relu',
        n.binary('Add', n.depthwise(x, randn([3, 3, s.c, 2], seed), 2), g.constant(randn([2 * s.c], seed + 1))),
      );
      return [
        n.fusedDepthwise(a, randn([5, 5, 2 * s.c, 1], seed + 2), randn([2 * s.c], seed + 3), ['BiasAdd', 'Relu6']),
      ];
    },
  },
  {
    title: 'Conv2DBackpropInput (stride 2, SAME) with AddV2 bias and Sigmoid',
    classes: ['Conv2DTranspose'],
    build: (g, x, s, seed) => {
      const sizes = g.constant([1, 2 * s.h, 2 * s.w, 4], [4], 'int32');
      const t = g.op('Conv2DBackpropInput', [sizes, g.constant(randn([3, 3, 4, s.c], seed)), x], {
        strides: attr.ints([1, 2, 2, 1]),
        padding: attr.str('SAME'),
        dilations: attr.ints([1, 1, 1, 1]),
      });
      return [g.op('Sigmoid', [g.op('AddV2', [t, g.constant(randn([4], seed + 1))])])];
    },
  },
  {
    title: 'Mean over height and width, MatMul (transpose_b) with BiasAdd and Softmax, _FusedMatMul with Relu',
    classes: ['GlobalAveragePooling2D', 'Dense', 'Softmax'],
    build: (g, x, s, seed) => {
      const m = g.op('Mean', [x, g.constant([1, 2], [2], 'int32')], {keep_dims: attr.bool(false)});
      const mm = g.op('MatMul', [m, g.constant(randn([7, s.c], seed))], {
        transpose_a: attr.bool(false),
        transpose_b: attr.bool(true),
      });
      const soft = g.op('Softmax', [g.op('BiasAdd', [mm, g.constant(randn([7], seed + 1))])]);
      const fused = g.op('_FusedMatMul', [m, g.constant(randn([s.c, 5], seed + 2)), g.constant(randn([5], seed + 3))], {
        transpose_a: attr.bool(false),
        transpose_b: attr.bool(false),
        fused_ops: attr.strs(['BiasAdd', 'Relu']),
        num_args: attr.int(1),
      });
      return [soft, fused];
    },
  },
  {
    title: 'Sub, Mul, RealDiv, BiasAdd and Add with constants (per channel, scalar, spatial), constant - x',
    classes: ['ConstantOp'],
    build: (g, x, s, seed) => {
      const n = nodes(g);
      const a = n.binary('Sub', x, g.constant(randn([1, 1, 1, s.c], seed)));
      const b = n.binary('Mul', g.constant(tf.scalar(1.7)), a);
      const c = n.binary('RealDiv', b, g.constant(tf.add(tf.abs(randn([s.c], seed + 1)), 0.5)));
      const d = n.binary('Sub', g.constant(tf.scalar(0.5)), c);
      const e = n.binary('AddV2', d, g.constant(randn([s.h, s.w, 1], seed + 2)));
      return [n.binary('BiasAdd', e, g.constant(randn([s.c], seed + 3)))];
    },
  },
  {
    title: 'Add, AddV2, AddN and Sub of tensors, squeeze-excitation Mul, hard swish',
    classes: ['Add', 'Multiply', 'ConstantOp', 'GlobalAveragePooling2D', 'Reshape'],
    build: (g, x, s, seed) => {
      const n = nodes(g);
      const a = n.conv(x, randn([3, 3, s.c, 6], seed, 0.5));
      const b = n.conv(x, randn([1, 1, s.c, 6], seed + 1, 0.5));
      const s2 = n.binary('AddV2', n.binary('Add', a, b), a);
      const d = n.binary('Sub', g.op('AddN', [a, b, s2], {N: attr.int(3)}), b);
      const se = g.op('Sigmoid', [g.op('Mean', [d, g.constant([1, 2], [2], 'int32')], {keep_dims: attr.bool(true)})]);
      const m = n.binary('Mul', d, se);
      const relu6 = g.op('Relu6', [n.binary('AddV2', m, g.constant(tf.scalar(3)))]);
      return [n.binary('Mul', n.binary('Mul', g.constant(tf.scalar(1 / 6)), m), relu6)];
    },
  },
  {
    title: 'Relu, Relu6, Sigmoid, Tanh, Elu, Selu, LeakyRelu and Softmax',
    classes: ['Activation', 'LeakyReLU', 'Softmax'],
    build: (g, x) => {
      const n = nodes(g);
      const u = n.binary('Mul', x, g.constant(tf.scalar(4)));
      return [
        ...['Relu', 'Relu6', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'Softmax'].map((op) => n.unary(op, u)),
        n.unary('LeakyRelu', u, {alpha: attr.float(0.1)}),
      ];
    },
  },
  {
    title: 'MaxPool and AvgPool, SAME and VALID',
    classes: ['MaxPooling2D', 'AveragePooling2D'],
    build: (g, x) => {
      const n = nodes(g);
      return [
        n.pool('MaxPool', x, 3, 2, 'SAME'),
        n.pool('AvgPool', x, 2, 2, 'VALID'),
        n.pool('AvgPool', x, 3, 1, 'SAME'),
      ];
    },
  },
  {
    title: 'ConcatV2 (channels, height), Pad (spatial and channels), PadV2, ResizeBilinear and ResizeNearestNeighbor',
    classes: ['Concatenate', 'ZeroPadding2D', 'ChannelPadding', 'Resize2D'],
    build: (g, x, s, seed) => {
      const n = nodes(g);
      const a = n.conv(x, randn([1, 1, s.c, 4], seed));
      const cat = g.op('ConcatV2', [x, a, g.constant([-1], [], 'int32')], {N: attr.int(2)});
      const p = g.op('Pad', [cat, g.constant([0, 0, 1, 2, 2, 0, 0, 3], [4, 2], 'int32')]);
      const p2 = g.op('PadV2', [x, g.constant([0, 0, 1, 1, 1, 1, 0, 0], [4, 2], 'int32'), g.constant(tf.scalar(0))]);
      const resize = (op: string, t: string, size: number[], flags: {[k: string]: boolean}) =>
        g.op(op, [t, g.constant(size, [2], 'int32')], {
          align_corners: attr.bool(flags.align ?? false),
          half_pixel_centers: attr.bool(flags.half ?? false),
        });
      return [
        resize('ResizeBilinear', p, [2 * s.h + 1, s.w + 3], {half: true}),
        resize('ResizeBilinear', x, [2 * s.h, 2 * s.w], {align: true}),
        resize('ResizeNearestNeighbor', x, [3 * s.h, 2 * s.w], {half: true}),
        g.op('ConcatV2', [x, x, g.constant([1], [], 'int32')], {N: attr.int(2)}),
        p2,
      ];
    },
  },
  {
    title:
      'int32 input: Cast, Unpack / ExpandDims / Squeeze of the batch axis, Reshape, Squeeze and ExpandDims at the head',
    classes: ['Conv2D', 'Reshape'],
    intInput: true,
    build: (g, x, s, seed) => {
      const n = nodes(g);
      const f = g.op('Cast', [x], {SrcT: attr.type('DT_INT32'), DstT: attr.type('DT_FLOAT')});
      const u = g.op('Unpack', [f], {axis: attr.int(0), num: attr.int(1)});
      const back = g.op('ExpandDims', [
        g.op('Squeeze', [g.op('ExpandDims', [u, g.constant([0], [], 'int32')])], {squeeze_dims: attr.ints([0])}),
        g.constant([0], [], 'int32'),
      ]);
      const scaled = n.binary('Sub', n.binary('Mul', back, g.constant(tf.scalar(1 / 127.5))), g.constant(tf.scalar(1)));
      const c = n.conv(scaled, randn([3, 3, s.c, 4], seed), 2);
      const reshaped = g.op('Reshape', [c, g.constant([1, -1, 2], [3], 'int32')]);
      const m = g.op('Mean', [c, g.constant([1, 2], [2], 'int32')], {keep_dims: attr.bool(true)});
      const squeezed = g.op('Squeeze', [m], {squeeze_dims: attr.ints([1, 2])});
      return [reshaped, g.op('Identity', [g.op('ExpandDims', [squeezed, g.constant([-1], [], 'int32')])])];
    },
  },
  {
    title: 'DepthwiseConv2dNative dilated 2 (SAME, then VALID, then AddV2 of a constant of its output shape)',
    classes: ['DepthwiseConv2D'],
    build: (g, x, s, seed) => {
      const dilated = (input: string, padding: string, k: number) =>
        g.op('DepthwiseConv2dNative', [input, g.constant(randn([3, 3, s.c, 1], seed + k))], {
          strides: attr.ints([1, 1, 1, 1]),
          padding: attr.str(padding),
          dilations: attr.ints([1, 2, 2, 1]),
        });
      // A VALID 3x3 conv dilated 2 takes 4 rows and columns off; the constant has the shape that leaves.
      const valid = dilated(dilated(x, 'SAME', 0), 'VALID', 1);
      return [g.op('AddV2', [valid, g.constant(randn([s.h - 4, s.w - 4, s.c], seed + 2))])];
    },
  },
];

/** The case whose title starts with `start` (the save / load test builds two of them). */
const caseTitled = (start: string): Case => CASES.find((c) => c.title.startsWith(start))!;

function randomShape(): Shape {
  return {batch: pick([2, 3]), h: pick([5, 7, 9, 12]), w: pick([6, 9, 11]), c: pick([3, 5])};
}

function asList(out: tf.Tensor | tf.Tensor[] | tf.NamedTensorMap): tf.Tensor[] {
  return Array.isArray(out) ? out : out instanceof tf.Tensor ? [out] : Object.values(out);
}

/** Max |a - b| / max |b| (0 when b is all zeros and so is a). */
function relError(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => {
    const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    const scale = tf.max(tf.abs(b)).dataSync()[0];
    return scale === 0 ? diff : diff / scale;
  });
}

function frame(s: Shape, seed: number, intInput: boolean, batch = s.batch): tf.Tensor {
  return tf.tidy(() =>
    intInput
      ? tf.round(tf.randomUniform([batch, s.h, s.w, s.c], 0, 255, 'float32', seed))
      : randn([batch, s.h, s.w, s.c], seed),
  );
}

/** The LayersModel against the graph, one batch row at a time (some graphs take batch 1 only). */
function expectMatchesGraph(model: tfl.LayersModel, graph: GraphModel, x: tf.Tensor, intInput: boolean, ctx: string) {
  const got = asList(model.predict(x) as tf.Tensor | tf.Tensor[]);
  try {
    for (let r = 0; r < x.shape[0]; r++) {
      tf.tidy(() => {
        const row = tf.slice(x, [r, 0, 0, 0], [1, -1, -1, -1]);
        const want = asList(graph.execute(intInput ? tf.cast(row, 'int32') : row) as tf.Tensor | tf.Tensor[]);
        expect(got.length, `${ctx}: outputs`).to.equal(want.length);
        want.forEach((w, i) => {
          const mine = tf.slice(
            got[i],
            [r, ...Array(got[i].rank - 1).fill(0)],
            [1, ...Array(got[i].rank - 1).fill(-1)],
          );
          expect(mine.shape, `${ctx}: output ${i} shape`).to.deep.equal(w.shape);
          expect(relError(mine, w), `${ctx}: output ${i}, batch row ${r}`).to.be.at.most(1e-5);
        });
      });
    }
  } finally {
    tf.dispose(got);
  }
}

describeEachBackend('fromGraphModel: graph models as LayersModels', () => {
  for (const c of CASES) {
    it(c.title, async () => {
      const seed = freshSeed();
      const s = c.intInput ? {...randomShape(), batch: 1} : randomShape();
      const ctx = `seed ${seed}, shape ${JSON.stringify(s)}`;
      const g = new GraphBuilder();
      const x = g.input(
        'x',
        c.intInput ? [1, s.h, s.w, s.c] : [-1, s.h, s.w, s.c],
        c.intInput ? 'DT_INT32' : 'DT_FLOAT',
      );
      const outputs = tf.tidy(() => c.build(g, x, s, seed));
      const graph = await g.load(outputs);
      const model = fromGraphModel(graph);
      const delta = toDelta(graph, {threshold: 0});
      try {
        // The delta model declares the dense model's output shapes (what a layer after them is built for).
        expect(
          delta.outputs.map((o) => o.shape),
          `${ctx}: delta output shapes`,
        ).to.deep.equal(model.outputs.map((o) => o.shape));
        const classes = new Set(model.layers.map((l) => l.getClassName()));
        for (const cls of c.classes)
          expect(classes.has(cls), `${ctx}: a ${cls} layer among [${[...classes]}]`).to.equal(true);
        // The LayersModel takes any batch, where the int32 graph takes one frame.
        const x0 = frame(s, seed + 10, c.intInput === true, c.intInput ? 2 : s.batch);
        expectMatchesGraph(model, graph, x0, c.intInput === true, ctx);
        x0.dispose();
        // Threshold 0: the delta stream reproduces the dense model on every frame.
        let xs: tf.Tensor | null = null;
        for (let t = 0; t < 4; t++) {
          const next: tf.Tensor = c.intInput
            ? tf.tidy(() =>
                tf.round(
                  tf.clipByValue(
                    tf.mul(
                      tf.add(nextFrame(xs == null ? null : tf.div(xs, 127.5), [2, s.h, s.w, s.c], seed, t), 1),
                      127.5,
                    ),
                    0,
                    255,
                  ),
                ),
              )
            : nextFrame(xs, [s.batch, s.h, s.w, s.c], seed, t);
          xs?.dispose();
          xs = next;
          tf.tidy(() => {
            const want = asList(model.predict(xs!) as tf.Tensor | tf.Tensor[]);
            const got = asList(delta.predictOnBatch(xs!) as tf.Tensor | tf.Tensor[]);
            want.forEach((w, i) =>
              expect(relError(got[i], w), `${ctx}: delta output ${i}, frame ${t}`).to.be.at.most(1e-4),
            );
          });
        }
        xs?.dispose();
      } finally {
        model.dispose();
        delta.dispose();
        graph.dispose();
      }
    });
  }

  it('refuses a node it cannot express: one error naming it, its op, the supported ops and the tensors it converts up to', async () => {
    const g = new GraphBuilder();
    const x = g.input('x', [-1, 7, 9, 3]);
    const n = nodes(g);
    const heat = n.unary('Sigmoid', n.conv(x, randn([3, 3, 3, 4], freshSeed())));
    const flat = g.op('Reshape', [heat, g.constant([1, -1], [2], 'int32')], {}, 'flat');
    const best = g.op('ArgMax', [flat, g.constant([1], [], 'int32')], {output_type: attr.type('DT_INT32')}, 'best');
    const graph = await g.load([best]);
    try {
      let message = '';
      try {
        fromGraphModel(graph);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).to.contain(`node 'best' (op ArgMax) cannot be expressed`);
      expect(message).to.contain('Supported ops: Placeholder, Const');
      expect(message).to.contain('ResizeBilinear');
      expect(message).to.contain(`The graph converts up to 'flat'`);
      // toDelta of the graph refuses the same way, and converts with the outputs offered.
      expect(() => toDelta(graph)).to.throw(/node 'best' \(op ArgMax\)/);
      const model = fromGraphModel(graph, {outputs: ['flat', heat]});
      expect(model.outputs.map((o) => o.shape)).to.deep.equal([
        [null, 7 * 9 * 4],
        [null, 7, 9, 4],
      ]);
      model.dispose();
    } finally {
      graph.dispose();
    }
    const mirror = new GraphBuilder();
    const y = mirror.input('y', [-1, 5, 5, 2]);
    const m = mirror.op(
      'MirrorPad',
      [y, mirror.constant([0, 0, 1, 1, 1, 1, 0, 0], [4, 2], 'int32')],
      {mode: attr.str('REFLECT')},
      'reflect',
    );
    expect(() => fromGraphModel(mirror.artifacts([m]))).to.throw(/node 'reflect' \(op MirrorPad\) cannot be expressed/);
  });

  it('converts artifacts as well as a GraphModel; the converted and delta models save and load (custom layers registered)', async () => {
    const seed = freshSeed();
    const s = randomShape();
    const g = new GraphBuilder();
    const x = g.input('x', [-1, s.h, s.w, s.c]);
    const outputs = tf.tidy(() =>
      caseTitled('ConcatV2')
        .build(g, x, s, seed)
        .concat(caseTitled('Sub, Mul, RealDiv').build(g, x, s, seed + 50)),
    );
    const model = fromGraphModel(g.artifacts(outputs));
    const delta = toDelta(model, {threshold: 0});
    const input = randn([s.batch, s.h, s.w, s.c], seed + 7);
    const roundTrip = async (m: tfl.LayersModel) => {
      let saved: tf.io.ModelArtifacts | null = null;
      await m.save(
        tf.io.withSaveHandler(
          async (a) => ((saved = a), {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}}),
        ),
      );
      return tfl.loadLayersModel(tf.io.fromMemory(saved!));
    };
    try {
      for (const m of [model, delta]) {
        const loaded = await roundTrip(m);
        m.resetStates();
        const [a, b] = [asList(m.predict(input) as tf.Tensor[]), asList(loaded.predict(input) as tf.Tensor[])];
        a.forEach((t, i) => expect(relError(b[i], t), `${m.name} output ${i}, seed ${seed}`).to.equal(0));
        tf.dispose([...a, ...b]);
        loaded.dispose();
      }
    } finally {
      tf.dispose(input);
      model.dispose();
      delta.dispose();
    }
  });
});
