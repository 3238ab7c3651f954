/** PyTorch checkpoints in TypeScript: readers (zip, legacy, safetensors) and the mapping onto tfjs weights. */
export {
  CheckpointError,
  describeValue,
  findStateDict,
  loadPyTorchCheckpoint,
  loadPyTorchCheckpointSync,
  readPyTorchFile,
  readSafetensors,
  STATE_DICT_KEYS,
} from './checkpoint';
export type {LoadCheckpointOptions, StateDict} from './checkpoint';
export {
  buildAndLoad,
  layoutOf,
  loadStateDict,
  mappingFromModel,
  StateDictMismatchError,
  torchLayout,
  torchToTfjs,
} from './mapping';
export type {Layout, LoadStateDictOptions, WeightMapping} from './mapping';
export {PickleError, PyGlobal, PyObject, unpickle} from './pickle';
export {TorchStorage, TorchTensor} from './tensor';
export type {TorchDType} from './tensor';
