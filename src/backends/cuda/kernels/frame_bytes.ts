/**
 * FramesFromBytes and FramesToBytes on 'cuda': the bytes cross PCIe packed four to an int32 and are converted on the
 * GPU, into or out of half storage directly when the frames are half-stored.
 */
import {util} from '@tensorflow/tfjs-core';

import {FramesFromBytes, FramesFromBytesAttrs, FramesToBytes, FramesToBytesAttrs} from '../../../ops/kernel_names';
import {registerCuda} from './util';

export function registerFrameBytesKernels(): void {
  registerCuda<FramesFromBytesAttrs>(FramesFromBytes, ({inputs, backend, attrs}) => {
    const {shape, scale} = attrs;
    const n = util.sizeFromShape(shape);
    const half = backend.halfStorage;
    const out = backend.makeOutput(shape, 'float32', half);
    if (n > 0) backend.n.framesFromBytes({x: backend.ptr(inputs.packed), y: backend.storedPtr(out), n, scale, half});
    return out;
  });

  registerCuda<FramesToBytesAttrs>(FramesToBytes, ({inputs, backend, attrs}) => {
    const {x} = inputs;
    const n = util.sizeFromShape(x.shape);
    const out = backend.makeOutput([Math.ceil(n / 4)], 'int32');
    const half = backend.isHalf(x);
    if (n > 0) {
      backend.n.framesToBytes({
        x: half ? backend.storedPtr(x) : backend.ptr(x),
        y: backend.storedPtr(out),
        n,
        scale: attrs.scale,
        half,
      });
    }
    return out;
  });
}
