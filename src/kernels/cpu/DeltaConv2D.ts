import {DeltaConv2D} from '../../ops/kernel_names';
import {deltaConvKernel} from './delta_conv_impl';

export const deltaConv2DConfig = deltaConvKernel(DeltaConv2D, false);
