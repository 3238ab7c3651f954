/** The host's IEEE half rounding (the reference kernels' half state) against numpy's float16 conversion. */
import {expect} from 'chai';
import * as fs from 'fs';
import * as path from 'path';

import {PACKAGE_ROOT} from '../../src/io/package_root';
import {halfRound, roundToHalf} from '../../src/kernels/half';

describe('IEEE half rounding on the host', () => {
  // float32 bit patterns and numpy's float32 -> float16 -> float32 of each: normals, subnormals, ties, the overflow
  // boundary (65520 rounds to infinity), infinities and signed zeros.
  // test/fixtures/float16_numpy.json: made once with numpy (its "source" names the version).
  const fixture = JSON.parse(
    fs.readFileSync(path.join(PACKAGE_ROOT, 'test', 'fixtures', 'float16_numpy.json'), 'utf8'),
  ) as {x: number[]; half: number[]};
  const asFloats = (bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);

  it(`matches numpy's float16 bit for bit on ${fixture.x.length} values`, () => {
    const x = asFloats(fixture.x);
    const want = new Uint32Array(asFloats(fixture.half).buffer);
    const got = new Uint32Array(roundToHalf(x).buffer);
    const wrong = Array.from(got.keys()).filter((i) => got[i] !== want[i]);
    expect(wrong.map((i) => `${x[i]} -> ${asFloats([got[i]])[0]}, numpy ${asFloats([want[i]])[0]}`)).to.deep.equal([]);
  });

  it('keeps NaN a NaN and is idempotent', () => {
    expect(Number.isNaN(halfRound(NaN))).to.equal(true);
    const x = asFloats(fixture.x);
    const once = roundToHalf(x);
    expect(Array.from(roundToHalf(once))).to.deep.equal(Array.from(once));
  });
});
