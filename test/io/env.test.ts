/** The one rule for the package's environment variables: flags, strings, and a loud error for a bad flag. */
import {expect} from 'chai';

import {envFlag, envString} from '../../src/io/env';

const NAME = 'TFJS_DELTA_ENV_TEST_VARIABLE';

function withValue(value: string | undefined, body: () => void): void {
  const saved = process.env[NAME];
  if (value === undefined) delete process.env[NAME];
  else process.env[NAME] = value;
  try {
    body();
  } finally {
    if (saved === undefined) delete process.env[NAME];
    else process.env[NAME] = saved;
  }
}

describe('environment variables (io/env)', () => {
  it('reads 1, true and yes as on, in any case', () => {
    for (const v of ['1', 'true', 'TRUE', 'yes', 'Yes', ' true '])
      withValue(v, () => expect(envFlag(NAME), v).to.equal(true));
  });

  it('reads 0, false, no, empty and unset as off', () => {
    for (const v of ['0', 'false', 'False', 'no', 'NO', '', undefined]) {
      withValue(v, () => expect(envFlag(NAME), String(v)).to.equal(false));
    }
  });

  it("gives the caller's default only when the variable is unset or empty", () => {
    withValue(undefined, () => expect(envFlag(NAME, true)).to.equal(true));
    withValue('', () => expect(envFlag(NAME, undefined)).to.equal(undefined));
    withValue('0', () => expect(envFlag(NAME, true)).to.equal(false));
    withValue('yes', () => expect(envFlag(NAME, undefined)).to.equal(true));
  });

  it('throws on any other value, naming the variable and the value', () => {
    for (const v of ['2', 'on', 'off', 'enabled', 'ture']) {
      withValue(v, () => expect(() => envFlag(NAME)).to.throw(new RegExp(`${NAME}="${v}" is not a flag`)));
    }
  });

  it('returns strings as given, with empty read as unset', () => {
    withValue('/opt/ffmpeg/bin/ffmpeg', () => expect(envString(NAME)).to.equal('/opt/ffmpeg/bin/ffmpeg'));
    withValue('', () => expect(envString(NAME)).to.equal(undefined));
    withValue(undefined, () => expect(envString(NAME)).to.equal(undefined));
  });
});
