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
    const {packed} = inputs;
    if (packed.dtype !== 'int32' || util.sizeFromShape(packed.shape) !== Math.ceil(n / 4)) {
      throw new Error(
        `'packed' must be int32 with ${Math.ceil(n / 4)} elements for shape [${shape}], got ` +
          `${packed.dtype} [${packed.shape}]`,
      );
    }
    // Half storage only where 255 x scale fits a half (65504).
    const half = backend.halfStorage && 255 * Math.abs(scale) <= 65504;
    const out = backend.makeOutput(shape, 'float32', half);
    if (n > 0) backend.n.framesFromBytes({x: backend.ptr(packed), y: backend.storedPtr(out), n, scale, half});
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
