/** `tfjs-delta convert`: a PyTorch / safetensors checkpoint to a tfjs model.json + weights. */
import {flavrFromStateDict} from '../models/flavr';
import {loadPyTorchCheckpoint} from '../models/pytorch/checkpoint';
import {resnetFromStateDict} from '../models/resnet';
import {nodeFileSystem} from '../io/node_file_system';

/** Recognises FLAVR and torchvision ResNet checkpoints by their tensor names. */
export async function convertCommand(checkpoint: string, outdir: string): Promise<void> {
  const sd = await loadPyTorchCheckpoint(checkpoint);
  const keys = [...sd.keys()];
  let kind: string;
  let model;
  if (keys.some((k) => k.startsWith('encoder.')) && keys.some((k) => k.startsWith('decoder.'))) {
    kind = 'FLAVR';
    model = flavrFromStateDict(sd);
  } else if (keys.includes('conv1.weight') && keys.some((k) => k.startsWith('layer1.'))) {
    kind = 'ResNet';
    model = resnetFromStateDict(sd);
  } else {
    throw new Error(
      `convert: '${checkpoint}' is neither a FLAVR nor a torchvision ResNet checkpoint ` +
        `(${keys.length} tensors, e.g. ${keys.slice(0, 5).join(', ')})`,
    );
  }
  try {
    await model.save(nodeFileSystem(outdir));
    console.log(`converted ${kind} (${model.countParams().toLocaleString('en')} parameters) to ${outdir}/model.json`);
  } finally {
    model.dispose();
  }
}
