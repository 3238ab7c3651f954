import {DeltaConv2D} from '../../ops/kernel_names';
import {deltaConvConfig} from './delta_conv_impl';

export const deltaConv2DConfig = deltaConvConfig(DeltaConv2D, false);
