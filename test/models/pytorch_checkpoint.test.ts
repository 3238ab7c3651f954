/**
 * The PyTorch checkpoint reader on fixtures written by torch 2.13 (scripts/make_torch_fixtures.py):
 * the same tensors (every dtype, a non-contiguous view, a storage offset, a scalar, an empty tensor)
 * in the zip format (pickle protocols 2 and 4), the legacy format and safetensors, compared with the
 * values torch wrote to JSON; nested training checkpoints; corrupt, truncated and foreign files.
 */
import * as fs from 'fs';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {expect} from 'chai';

import {
  CheckpointError,
  findStateDict,
  loadPyTorchCheckpoint,
  loadPyTorchCheckpointSync,
  readPyTorchFile,
} from '../../src/models/pytorch/checkpoint';
import {
  loadStateDict,
  mappingFromModel,
  StateDictMismatchError,
  torchLayout,
  torchToTfjs,
} from '../../src/models/pytorch/mapping';
import {PyObject, unpickle} from '../../src/models/pytorch/pickle';
import {TorchStorage, TorchTensor} from '../../src/models/pytorch/tensor';
import {fixture} from '../support/pytorch_fixtures';

interface Expected {
  shape: number[];
  dtype: string;
  values: number[];
}

const expected: {[name: string]: Expected} = JSON.parse(fs.readFileSync(fixture('tensors.json'), 'utf8'));

function expectTensors(sd: Map<string, TorchTensor>, names: string[], context: string): void {
  for (const name of names) {
    const t = sd.get(name);
    expect(t, `${context}: ${name}`).to.be.instanceOf(TorchTensor);
    const want = expected[name];
    expect(t!.shape, `${context}: ${name} shape`).to.deep.equal(want.shape);
    expect(t!.dtype, `${context}: ${name} dtype`).to.equal(want.dtype === 'bool' ? 'bool' : want.dtype);
    const got = Array.from(t!.gather());
    // float32 holds every value exactly except the wide int64 and float64 ones.
    const round = (v: number) => (want.dtype === 'float64' || want.dtype === 'int64' ? Math.fround(v) : v);
    expect(got, `${context}: ${name} values`).to.deep.equal(want.values.map(round));
  }
}

function bytesOf(name: string): Uint8Array {
  return new Uint8Array(fs.readFileSync(fixture(name)));
}

async function expectThrows(
  f: () => unknown,
  pattern: RegExp,
  type: new (...args: never[]) => Error = CheckpointError,
): Promise<void> {
  let error: unknown = null;
  try {
    await f();
  } catch (e) {
    error = e;
  }
  expect(error, `expected an error matching ${pattern}`).to.be.instanceOf(type);
  expect((error as Error).message).to.match(pattern);
}

describe('PyTorch checkpoint reader', () => {
  const all = Object.keys(expected);

  for (const file of ['tensors_zip.pt', 'tensors_zip_p4.pt', 'tensors_legacy.pt', 'tensors.safetensors']) {
    it(`reads every dtype, view and offset of ${file} exactly`, async () => {
      const sd = await loadPyTorchCheckpoint(fixture(file));
      expect([...sd.keys()].sort()).to.deep.equal([...all].sort());
      expectTensors(sd, all, file);
    });
  }

  it('reads the int64 values exactly and keeps strides of views', () => {
    const sd = loadPyTorchCheckpointSync(fixture('tensors_zip.pt'));
    const t = sd.get('transposed')!;
    expect(t.stride).to.deep.equal([1, 20, 5]);
    const view = sd.get('offset_view')!;
    expect(view.offset).to.equal(27);
    const long = sd.get('long')!;
    expect(long.dtype).to.equal('int64');
    expect(Array.from(long.gather())).to.deep.equal([3, -2, Math.fround(2 ** 40)]);
  });

  it('finds the state dict of a training checkpoint and strips the module. prefix', async () => {
    const sd = await loadPyTorchCheckpoint(fs.readFileSync(fixture('training_zip.pth')));
    expect([...sd.keys()].sort()).to.deep.equal([...all].sort());
    expectTensors(sd, all, 'training_zip.pth');
    const raw = findStateDict(readPyTorchFile(bytesOf('training_zip.pth')), {stripPrefix: false});
    expect([...raw.keys()].every((k) => k.startsWith('module.'))).to.equal(true);
  });

  it('keeps the rest of a training checkpoint readable: numbers, numpy scalars, optimizer, sets', () => {
    const obj = readPyTorchFile(bytesOf('training_zip.pth')) as Map<string, unknown>;
    expect(obj.get('epoch')).to.equal(3);
    expect(obj.get('best_psnr')).to.equal(31.5);
    expect(obj.get('note')).to.equal('fixture');
    expect(obj.get('tags')).to.deep.equal(['a', 'b']);
    expect(obj.get('flags')).to.deep.equal(new Set([1, 2]));
    const opt = obj.get('optimizer') as Map<string, unknown>;
    const groups = opt.get('param_groups') as Array<Map<string, unknown>>;
    expect(groups[0].get('lr')).to.equal(0.001);
    expect(groups[0].get('betas')).to.deep.equal([0.9, 0.999]);
    const state = (opt.get('state') as Map<number, Map<string, unknown>>).get(0)!;
    expect(state.get('exp_avg')).to.be.instanceOf(TorchTensor);
    expect((state.get('exp_avg') as TorchTensor).shape).to.deep.equal(expected['conv.weight'].shape);
  });

  it('finds a state dict under "model" in a legacy file, or under the key given', () => {
    const sd = loadPyTorchCheckpointSync(fixture('model_key_legacy.pth'));
    expect(sd.has('conv.weight')).to.equal(true);
    const same = loadPyTorchCheckpointSync(fixture('model_key_legacy.pth'), {key: 'model'});
    expect([...same.keys()]).to.deep.equal([...sd.keys()]);
  });

  it('explains where it looked when no state dict is found or the key is wrong', async () => {
    await expectThrows(
      () => loadPyTorchCheckpointSync(fixture('model_key_legacy.pth'), {key: 'meta'}),
      /key "meta" holds dict of 1, not a dict of tensors/,
    );
    await expectThrows(
      () => loadPyTorchCheckpointSync(fixture('model_key_legacy.pth'), {key: 'weights.x'}),
      /no key 'weights' on the path \["weights","x"\] \(found: model, meta\)/,
    );
    const obj = new Map<string, unknown>([
      ['epoch', 1],
      ['optimizer', new Map()],
    ]);
    await expectThrows(
      () => findStateDict(obj),
      /no state dict found; the top-level dict holds epoch \(1\), optimizer \(dict of 0\)/,
    );
  });

  it('fails clearly on missing, empty, foreign, truncated and corrupt files', async () => {
    await expectThrows(() => loadPyTorchCheckpoint(fixture('nope.pth')), /checkpoint '.*nope.pth' does not exist/);
    await expectThrows(() => readPyTorchFile(new Uint8Array(0)), /is empty/);
    await expectThrows(
      () => readPyTorchFile(new TextEncoder().encode('hello world')),
      /neither a torch.save checkpoint .* nor safetensors \(first bytes 68 65 6c 6c\)/,
    );
    const zip = bytesOf('tensors_zip.pt');
    await expectThrows(
      () => readPyTorchFile(zip.slice(0, zip.length - 100)),
      /not a readable zip archive \(truncated or corrupt\?\)/,
    );
    const legacy = bytesOf('tensors_legacy.pt');
    await expectThrows(
      () => readPyTorchFile(legacy.slice(0, legacy.length - 10)),
      /is truncated: storage \S+ (needs bytes up to \d+, the file has \d+|starts past the end of the file)/,
    );
    await expectThrows(() => readPyTorchFile(legacy.slice(0, 300)), /pickle: truncated/);
    const st = bytesOf('tensors.safetensors');
    await expectThrows(
      () => readPyTorchFile(st.slice(0, st.length - 8)),
      /spans bytes \d+\.\.\d+ of \d+: truncated or corrupt/,
    );
    // A zip whose data.pkl is garbage: flip the opcode bytes after the protocol header.
    const broken = zip.slice();
    const at = Buffer.from(broken).indexOf('collections');
    broken.fill(0xff, at - 3, at + 40);
    await expectThrows(() => readPyTorchFile(broken), /pickle: unsupported opcode 0xff at offset \d+/);
    await expectThrows(
      () => readPyTorchFile(bytesOf('scripted.pt')),
      /is a TorchScript archive \(torch.jit.save\), not a torch.save checkpoint/,
    );
    // A plain pickle that is not a torch checkpoint.
    const plain = new Uint8Array([0x80, 0x02, 0x4b, 0x07, 0x2e]);
    await expectThrows(() => readPyTorchFile(plain), /a pickle but not a torch.save checkpoint/);
  });

  it('reports a storage that is shorter than its tensors need', async () => {
    const storage = new TorchStorage('float32', 4, () => new Uint8Array(8), 'data/0');
    const t = TorchTensor.contiguous(storage, [4]);
    await expectThrows(() => t.gather(), /storage data\/0 holds 8 bytes, but 4 float32 elements need 16/, Error);
    const wide = new TorchTensor(new TorchStorage('float32', 4, () => new Uint8Array(16)), 2, [2, 2], [2, 1]);
    await expectThrows(() => wide.gather(), /reads past its storage/, Error);
  });

  it('unpickles protocol-0 text opcodes and unknown classes without failing', () => {
    // (dp0\nS'a'\np1\nI12\nsS'b'\nF1.5\ns.  = {'a': 12, 'b': 1.5} at protocol 0
    const text = "(dp0\nS'a'\np1\nI12\nsS'b'\np2\nF1.5\ns.";
    expect(unpickle(new TextEncoder().encode(text)).value).to.deep.equal(
      new Map<string, unknown>([
        ['a', 12],
        ['b', 1.5],
      ]),
    );
    // cfoo\nBar\n)R}b.  = foo.Bar() with state {}
    const obj = unpickle(new TextEncoder().encode('cfoo\nBar\n)R}b.')).value as PyObject;
    expect(obj).to.be.instanceOf(PyObject);
    expect(obj.cls.qualifiedName).to.equal('foo.Bar');
  });
});

describe('PyTorch -> tfjs weight mapping', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  function torchTensor(shape: number[], values?: number[]): TorchTensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(values ?? Array.from({length: n}, (_, i) => i));
    return TorchTensor.contiguous(new TorchStorage('float32', n, () => new Uint8Array(data.buffer)), shape);
  }

  it('converts every layout to the tfjs axis order', () => {
    const cases: Array<[Parameters<typeof torchLayout>[0], number[], number[]]> = [
      ['conv2d', [2, 3, 4, 5], [4, 5, 3, 2]],
      ['conv3d', [2, 3, 4, 5, 6], [4, 5, 6, 3, 2]],
      ['convTranspose2d', [2, 3, 4, 5], [4, 5, 3, 2]],
      ['convTranspose3d', [2, 3, 4, 5, 6], [4, 5, 6, 3, 2]],
      ['linear', [2, 3], [3, 2]],
      ['gate', [3, 4, 1, 1, 1], [4, 3]],
      ['depthwiseConv2d', [6, 1, 2, 2], [2, 2, 3, 2]],
      ['vector', [5], [5]],
    ];
    for (const [layout, torchShape, tfShape] of cases) {
      expect(torchLayout(layout, tfShape).torchShape, layout).to.deep.equal(torchShape);
      const t = torchTensor(torchShape);
      tf.tidy(() => {
        const got = torchToTfjs(t, layout, tfShape);
        expect(got.shape, layout).to.deep.equal(tfShape);
        // Element check against the definition: tfjs[idx] = torch[perm-mapped idx].
        const src = tf.tensor(Array.from(t.gather()), torchShape);
        const ref =
          layout === 'depthwiseConv2d'
            ? tf.transpose(tf.reshape(src, [3, 2, 2, 2]), [2, 3, 0, 1])
            : tf.reshape(tf.transpose(src, torchLayout(layout, tfShape).perm), tfShape);
        expect(Array.from(got.dataSync()), layout).to.deep.equal(Array.from(ref.dataSync()));
      });
    }
  });

  it('loads a state dict into a model and lists every missing, unexpected and mis-shaped tensor', () => {
    const input = tfl.input({shape: [4]});
    const out = tfl.layers
      .dense({name: 'fc', units: 2})
      .apply(tfl.layers.batchNormalization({name: 'bn'}).apply(input)) as tfl.SymbolicTensor;
    const model = tfl.model({inputs: input, outputs: out});
    const mapping = mappingFromModel(model);
    expect(mapping.map((m) => m.torch)).to.deep.equal([
      'bn.weight',
      'bn.bias',
      'bn.running_mean',
      'bn.running_var',
      'fc.weight',
      'fc.bias',
    ]);
    const good = new Map<string, TorchTensor>([
      ['bn.weight', torchTensor([4])],
      ['bn.bias', torchTensor([4])],
      ['bn.running_mean', torchTensor([4])],
      ['bn.running_var', torchTensor([4])],
      ['bn.num_batches_tracked', torchTensor([])],
      ['fc.weight', torchTensor([2, 4])],
      ['fc.bias', torchTensor([2])],
    ]);
    loadStateDict(model, mapping, good);
    const kernel = model.getLayer('fc').getWeights()[0];
    expect(kernel.shape).to.deep.equal([4, 2]);
    expect(Array.from(kernel.dataSync())).to.deep.equal([0, 4, 1, 5, 2, 6, 3, 7]);

    const bad = new Map(good);
    bad.delete('bn.bias');
    bad.set('fc.weight', torchTensor([4, 2]));
    bad.set('head.weight', torchTensor([3]));
    let error: StateDictMismatchError | null = null;
    try {
      loadStateDict(model, mapping, bad, {context: 'test'});
    } catch (e) {
      error = e as StateDictMismatchError;
    }
    expect(error).to.be.instanceOf(StateDictMismatchError);
    expect(error!.missing).to.deep.equal(['bn.bias']);
    expect(error!.unexpected).to.deep.equal(['head.weight']);
    expect(error!.misShaped).to.deep.equal([{name: 'fc.weight', expected: [2, 4], got: [4, 2]}]);
    expect(error!.message).to.equal(
      'test: the state dict does not match the model; 1 missing: bn.bias; ' +
        '1 unexpected: head.weight; 1 mis-shaped: fc.weight (expected [2,4], got [4,2])',
    );
    // Nothing was written by the failed load.
    expect(Array.from(model.getLayer('fc').getWeights()[0].dataSync())).to.deep.equal([0, 4, 1, 5, 2, 6, 3, 7]);
    model.dispose();
  });
});
