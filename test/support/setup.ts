/**
 * Loaded by mocha before the tests: the tfjs packages, the package under test, and the optional
 * backends (see backends.ts). Tests choose their backend explicitly.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';
import '../../src/index';

import {loadOptionalBackends} from './backends';

loadOptionalBackends();
