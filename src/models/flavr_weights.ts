/**
 * FLAVR weights as `tfjs-delta interpolate --weights` and the queue's interpolation jobs take them: a PyTorch or
 * safetensors checkpoint, or a folder written by `tfjs-delta convert`.
 */
import * as fs from 'fs';
import * as path from 'path';

import type * as tfl from '@tensorflow/tfjs-layers';
import {loadLayersModel} from '@tensorflow/tfjs-layers';

import {nodeFileSystem} from '../io/node_file_system';
import {flavrFromCheckpoint} from './flavr';

const WEIGHT_KINDS =
  'a FLAVR .pth or .safetensors checkpoint (the official FLAVR_2x/4x/8x.pth from the FLAVR ' +
  "authors' GitHub project tarun005/FLAVR), or a folder written by `tfjs-delta convert` (model.json + weights)";

/** A converted model: a folder holding model.json, or the model.json itself. */
function convertedModelJson(weights: string): string | null {
  if (fs.statSync(weights).isDirectory()) {
    const json = path.join(weights, 'model.json');
    return fs.existsSync(json) ? json : null;
  }
  return weights.endsWith('.json') ? weights : null;
}

/** Why --weights cannot be used (missing, or a folder without model.json), or null. */
export function flavrWeightsProblem(weights: string | undefined): string | null {
  if (weights == null) return `interpolate needs FLAVR weights: ${WEIGHT_KINDS}`;
  if (!fs.existsSync(weights)) return `weights '${weights}' do not exist; --weights takes ${WEIGHT_KINDS}`;
  if (fs.statSync(weights).isDirectory() && convertedModelJson(weights) == null) {
    return `the folder has no model.json; --weights takes ${WEIGHT_KINDS}`;
  }
  return null;
}

/** FLAVR from --weights (see flavrWeightsProblem), checked to be a FLAVR model. */
export async function loadFlavr(weights: string): Promise<tfl.LayersModel> {
  const json = convertedModelJson(weights);
  if (json == null) return flavrFromCheckpoint(weights);
  const model = await loadLayersModel(nodeFileSystem(json));
  const [input, output] = [model.inputs[0].shape, model.outputs[0].shape];
  if (model.inputs.length !== 1 || input.length !== 5 || input[1] !== 4 || output.length !== 5) {
    model.dispose();
    throw new Error(
      `'${json}' is not a FLAVR model (input [${input}], output [${output}]); --weights takes ${WEIGHT_KINDS}`,
    );
  }
  return model;
}
