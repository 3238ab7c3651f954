/** a + b; mask = union of the input masks, dense when either input is dense. */
import * as tf from '@tensorflow/tfjs-core';

import {DeltaAdd} from '../../ops/kernel_names';
import {maskOf} from '../../ops/mask';
import {sharedKernel, tensorOf, withActive} from './composite_util';

export const deltaAddConfig = (backendName: string) =>
  sharedKernel(DeltaAdd, backendName, ({a, b}, _, backend) => {
    const ma = maskOf(a);
    const mb = maskOf(b);
    return withActive(
      backend,
      tf.add(tensorOf(a), tensorOf(b)),
      ma != null && mb != null ? tf.logicalOr(ma, mb) : null,
    );
  });
