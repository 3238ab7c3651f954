import {DeltaDepthwiseConv2D} from '../../ops/kernel_names';
import {deltaConvKernel} from './delta_conv_impl';

export const deltaDepthwiseConv2DConfig = deltaConvKernel(DeltaDepthwiseConv2D, true);
