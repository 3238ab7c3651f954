import {DeltaDepthwiseConv2D} from '../../ops/kernel_names';
import {deltaConvConfig} from './delta_conv_impl';

export const deltaDepthwiseConv2DConfig = deltaConvConfig(DeltaDepthwiseConv2D, true);
