/**
 * Reads PyTorch checkpoints in TypeScript, without Python:
 *  - the zip format of torch.save (PyTorch >= 1.6): `<name>/data.pkl` + `<name>/data/<key>` storages;
 *  - the legacy format (torch.save(..., _use_new_zipfile_serialization=False) and PyTorch < 1.6):
 *    pickled magic number, protocol version and sys info, the pickled object, the pickled list of
 *    storage keys, then each storage as an int64 element count and its raw bytes;
 *  - safetensors: an 8-byte header length, a JSON header, raw little-endian data.
 *
 * `readPyTorchFile` returns the whole unpickled object (dicts as Maps, tensors as TorchTensor, with
 * storages read only when a tensor's values are first used). `loadPyTorchCheckpoint` finds the state
 * dict inside it (a top-level dict of tensors, or the one under 'state_dict' / 'model' / ..., or the
 * key you name) and strips DataParallel's 'module.' prefix.
 */
import * as fs from 'fs';

import {unzipSync} from 'fflate';

import {PickleError, PyGlobal, PyObject, unpickle} from './pickle';
import {DTYPE_BYTES, dtypeOfSafetensors, dtypeOfStorageClass, TorchDType, TorchStorage, TorchTensor} from './tensor';

export type StateDict = Map<string, TorchTensor>;

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

type StorageFactory = (key: string, dtype: TorchDType, numel: number) => TorchStorage;

function asInt(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  throw new CheckpointError(`${what} is not an integer (${String(v)}): the checkpoint is corrupt`);
}

function asInts(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw new CheckpointError(`${what} is not a tuple: the checkpoint is corrupt`);
  return v.map((x, i) => asInt(x, `${what}[${i}]`));
}

/** torch's REDUCE targets: tensors and parameters; everything else stays a PyObject. */
function torchCall(g: PyGlobal, args: unknown[]): unknown {
  switch (g.qualifiedName) {
    case 'torch._utils._rebuild_tensor':
    case 'torch._utils._rebuild_tensor_v2': {
      const [storage, offset, size, stride, requiresGrad] = args;
      if (!(storage instanceof TorchStorage)) {
        throw new CheckpointError(`${g.name}: expected a storage, got ${describeValue(storage)}`);
      }
      return new TorchTensor(
        storage,
        asInt(offset, 'storage offset'),
        asInts(size, 'size'),
        asInts(stride, 'stride'),
        requiresGrad === true,
      );
    }
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      return args[0]; // nn.Parameter(data, requires_grad): the data is what we need
    case 'torch._tensor._rebuild_from_type_v2': {
      // (func, new_type, args, state): tensor subclasses; rebuild with func(*args).
      const [fn, , inner] = args;
      if (fn instanceof PyGlobal && Array.isArray(inner)) return torchCall(fn, inner);
      return undefined;
    }
    default:
      return undefined;
  }
}

/** torch.save's persistent ids: ('storage', storage_type, key, location, numel[, view_metadata]). */
function persistentLoader(makeStorage: StorageFactory): (pid: unknown) => unknown {
  const storages = new Map<string, TorchStorage>();
  return (pid: unknown) => {
    if (!Array.isArray(pid) || pid[0] !== 'storage') {
      throw new CheckpointError(`unknown persistent id ${describeValue(pid)}: not a torch.save checkpoint?`);
    }
    const [, type, rawKey, , rawNumel, view] = pid;
    const typeName = type instanceof PyGlobal ? type.qualifiedName : String(type);
    const dtype = dtypeOfStorageClass(typeName);
    if (dtype == null) throw new CheckpointError(`unsupported storage type ${typeName}`);
    const key = String(rawKey);
    const numel = asInt(rawNumel, `numel of storage ${key}`);
    let storage = storages.get(key);
    if (storage == null) {
      storage = makeStorage(key, dtype, numel);
      storages.set(key, storage);
    }
    if (Array.isArray(view) && view.length === 3) {
      // Legacy storage views: (view_key, offset, view_size) into the root storage.
      const root = storage;
      const [viewKey, viewOffset, viewSize] = [
        String(view[0]),
        asInt(view[1], 'view offset'),
        asInt(view[2], 'view size'),
      ];
      const size = DTYPE_BYTES[dtype];
      const viewStorage = new TorchStorage(
        dtype,
        viewSize,
        () => root.bytes.subarray(viewOffset * size, (viewOffset + viewSize) * size),
        `${viewKey} (view of ${key})`,
      );
      storages.set(viewKey, viewStorage);
      return viewStorage;
    }
    return storage;
  };
}

function isZip(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04;
}

function isSafetensors(b: Uint8Array): boolean {
  if (b.length < 10) return false;
  const n = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  return n > 1n && n <= BigInt(b.length - 8) && b[8] === 0x7b; // '{'
}

function unzipEntries(
  bytes: Uint8Array,
  filter: (name: string) => boolean,
  source: string,
): {[name: string]: Uint8Array} {
  try {
    return unzipSync(bytes, {filter: (f) => filter(f.name)});
  } catch (e) {
    throw new CheckpointError(
      `${source} is not a readable zip archive (truncated or corrupt?): ${(e as Error).message}`,
    );
  }
}

function readZip(bytes: Uint8Array, source: string): unknown {
  const names: string[] = [];
  unzipEntries(bytes, (name) => (names.push(name), false), source);
  if (names.some((n) => /(^|\/)constants\.pkl$/.test(n)) && names.some((n) => /(^|\/)code\//.test(n))) {
    throw new CheckpointError(
      `${source} is a TorchScript archive (torch.jit.save), not a torch.save checkpoint; ` +
        `save the model's state_dict() with torch.save instead`,
    );
  }
  const pkl = names.find((n) => /(^|\/)data\.pkl$/.test(n));
  if (pkl == null) {
    throw new CheckpointError(
      `${source} is a zip archive without data.pkl (entries: ${names.slice(0, 8).join(', ')}` +
        `${names.length > 8 ? ', ...' : ''}): not a torch.save checkpoint`,
    );
  }
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const byteorder = names.includes(`${prefix}byteorder`)
    ? new TextDecoder().decode(unzipEntries(bytes, (n) => n === `${prefix}byteorder`, source)[`${prefix}byteorder`])
    : 'little';
  if (byteorder.trim() !== 'little')
    throw new CheckpointError(`${source} was saved big-endian (${byteorder}); only little-endian is supported`);
  const present = new Set(names);
  const makeStorage: StorageFactory = (key, dtype, numel) => {
    const name = `${prefix}data/${key}`;
    if (!present.has(name))
      throw new CheckpointError(
        `${source} lacks the storage ${name} that its data.pkl references: truncated or corrupt`,
      );
    return new TorchStorage(dtype, numel, () => unzipEntries(bytes, (n) => n === name, source)[name], name);
  };
  const pickle = unzipEntries(bytes, (n) => n === pkl, source)[pkl];
  return unpickleOrFail(pickle, 0, source, makeStorage).value;
}

function unpickleOrFail(
  data: Uint8Array,
  offset: number,
  source: string,
  makeStorage?: StorageFactory,
): {value: unknown; end: number} {
  try {
    return unpickle(data, offset, {
      persistentLoad: makeStorage ? persistentLoader(makeStorage) : undefined,
      call: torchCall,
    });
  } catch (e) {
    if (e instanceof PickleError || e instanceof CheckpointError) {
      throw new CheckpointError(`${source}: ${e.message}`);
    }
    throw e;
  }
}

function readLegacy(bytes: Uint8Array, source: string): unknown {
  const magic = unpickleOrFail(bytes, 0, source);
  if (magic.value !== LEGACY_MAGIC) {
    throw new CheckpointError(`${source} is a pickle but not a torch.save checkpoint (no torch magic number)`);
  }
  const protocol = unpickleOrFail(bytes, magic.end, source);
  if (protocol.value !== LEGACY_PROTOCOL) {
    throw new CheckpointError(`${source}: unsupported legacy protocol version ${String(protocol.value)}`);
  }
  const sysInfo = unpickleOrFail(bytes, protocol.end, source);
  const info = sysInfo.value instanceof Map ? sysInfo.value : new Map();
  if (info.get('little_endian') === false)
    throw new CheckpointError(`${source} was saved big-endian; only little-endian is supported`);
  // Storages follow the key list; resolve their positions once that list has been read.
  const layout = new Map<string, Uint8Array>();
  const makeStorage: StorageFactory = (key, dtype, numel) =>
    new TorchStorage(
      dtype,
      numel,
      () => {
        const b = layout.get(key);
        if (b == null)
          throw new CheckpointError(`${source}: storage ${key} is missing from the storage list: truncated or corrupt`);
        return b;
      },
      key,
    );
  const dtypes = new Map<string, TorchDType>();
  const result = unpickleOrFail(bytes, sysInfo.end, source, (key, dtype, numel) => {
    dtypes.set(key, dtype);
    return makeStorage(key, dtype, numel);
  });
  const keys = unpickleOrFail(bytes, result.end, source);
  if (!Array.isArray(keys.value)) throw new CheckpointError(`${source}: the storage key list is not a list: corrupt`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const k of keys.value) {
    const key = String(k);
    const dtype = dtypes.get(key);
    if (dtype == null) throw new CheckpointError(`${source}: storage ${key} is listed but never used: corrupt`);
    if (pos + 8 > bytes.length)
      throw new CheckpointError(`${source} is truncated: storage ${key} starts past the end of the file`);
    const numel = Number(view.getBigInt64(pos, true));
    const end = pos + 8 + numel * DTYPE_BYTES[dtype];
    if (end > bytes.length) {
      throw new CheckpointError(
        `${source} is truncated: storage ${key} needs bytes up to ${end}, the file has ${bytes.length}`,
      );
    }
    layout.set(key, bytes.subarray(pos + 8, end));
    pos = end;
  }
  return result.value;
}

/** safetensors: a flat map of names to tensors (its '__metadata__' is dropped). */
export function readSafetensors(bytes: Uint8Array, source = 'safetensors data'): StateDict {
  if (!isSafetensors(bytes)) throw new CheckpointError(`${source} is not a safetensors file (bad header)`);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  let header: {[name: string]: {dtype: string; shape: number[]; data_offsets: [number, number]}};
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new CheckpointError(`${source}: the safetensors header is not valid JSON: ${(e as Error).message}`);
  }
  const data = bytes.subarray(8 + n);
  const out: StateDict = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const dtype = dtypeOfSafetensors(info.dtype);
    if (dtype == null) throw new CheckpointError(`${source}: tensor ${name} has unsupported dtype ${info.dtype}`);
    const [begin, end] = info.data_offsets;
    const numel = info.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== numel * DTYPE_BYTES[dtype] || end > data.length) {
      throw new CheckpointError(
        `${source}: tensor ${name} [${info.shape}] ${info.dtype} spans bytes ${begin}..${end} ` +
          `of ${data.length}: truncated or corrupt`,
      );
    }
    const storage = new TorchStorage(dtype, numel, () => data.subarray(begin, end), name);
    out.set(name, TorchTensor.contiguous(storage, info.shape));
  }
  return out;
}

/**
 * The object saved in a PyTorch checkpoint (zip or legacy torch.save format) or a safetensors file
 * (as a Map of tensors).
 */
export function readPyTorchFile(bytes: Uint8Array, source = 'checkpoint'): unknown {
  if (bytes.length === 0) throw new CheckpointError(`${source} is empty`);
  if (isZip(bytes)) return readZip(bytes, source);
  if (isSafetensors(bytes)) return readSafetensors(bytes, source);
  if (bytes[0] === 0x80) return readLegacy(bytes, source);
  throw new CheckpointError(
    `${source} is neither a torch.save checkpoint (zip or legacy) nor safetensors ` +
      `(first bytes ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')})`,
  );
}

/** A short description of an unpickled value, for error messages. */
export function describeValue(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof TorchTensor) return `tensor ${v.dtype} [${v.shape}]`;
  if (v instanceof Map) return `dict of ${v.size}`;
  if (Array.isArray(v)) return `list of ${v.length}`;
  if (v instanceof PyObject) return `${v.cls.qualifiedName} object`;
  if (v instanceof PyGlobal) return v.qualifiedName;
  if (v instanceof Uint8Array) return `bytes of ${v.length}`;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

function isStateDict(v: unknown): v is Map<string, TorchTensor> {
  if (!(v instanceof Map) || v.size === 0) return false;
  for (const [k, t] of v) if (typeof k !== 'string' || !(t instanceof TorchTensor)) return false;
  return true;
}

/** Where state dicts usually live in training checkpoints, in the order they are tried. */
export const STATE_DICT_KEYS = ['state_dict', 'model_state_dict', 'model', 'net', 'network', 'params', 'module'];

export interface LoadCheckpointOptions {
  /**
   * Where the state dict is: a key of the top-level dict, or a path of keys ('a.b' or ['a', 'b']).
   * Default: the top level if it is a dict of tensors, else the first of STATE_DICT_KEYS that is.
   */
  key?: string | string[];
  /** Prefix stripped from every key that has it; default 'module.' (DataParallel). false keeps keys. */
  stripPrefix?: string | false;
}

/** Finds the state dict inside an unpickled checkpoint and strips the 'module.' prefix. */
export function findStateDict(obj: unknown, options: LoadCheckpointOptions = {}, source = 'checkpoint'): StateDict {
  let found: unknown;
  let where = 'the top level';
  if (options.key != null) {
    const path = Array.isArray(options.key) ? options.key : options.key.split('.');
    found = obj;
    for (const k of path) {
      if (!(found instanceof Map) || !found.has(k)) {
        const keys = found instanceof Map ? [...found.keys()].map(String).join(', ') : describeValue(found);
        throw new CheckpointError(`${source}: no key '${k}' on the path ${JSON.stringify(path)} (found: ${keys})`);
      }
      found = found.get(k);
    }
    where = `key ${JSON.stringify(path.join('.'))}`;
    if (!isStateDict(found))
      throw new CheckpointError(`${source}: ${where} holds ${describeValue(found)}, not a dict of tensors`);
  } else if (isStateDict(obj)) {
    found = obj;
  } else if (obj instanceof Map) {
    const key = STATE_DICT_KEYS.find((k) => isStateDict(obj.get(k)));
    if (key == null) {
      const summary = [...obj.entries()].map(([k, v]) => `${String(k)} (${describeValue(v)})`).join(', ');
      throw new CheckpointError(
        `${source}: no state dict found; the top-level dict holds ${summary}. ` +
          `Pass {key: '...'} to say where the tensors are`,
      );
    }
    found = obj.get(key);
  } else {
    throw new CheckpointError(`${source} holds ${describeValue(obj)}, not a dict of tensors`);
  }
  const prefix = options.stripPrefix === undefined ? 'module.' : options.stripPrefix;
  const out: StateDict = new Map();
  for (const [k, t] of found as Map<string, TorchTensor>) {
    const name = prefix !== false && prefix !== '' && k.startsWith(prefix) ? k.slice(prefix.length) : k;
    if (out.has(name))
      throw new CheckpointError(`${source}: keys '${name}' and '${prefix}${name}' collide after stripping '${prefix}'`);
    out.set(name, t);
  }
  return out;
}

/**
 * Reads a checkpoint (path or bytes) and returns its state dict: PyTorch zip or legacy format,
 * a nested {'state_dict': ..., 'optimizer': ...} training checkpoint, or safetensors.
 */
export async function loadPyTorchCheckpoint(
  source: string | Uint8Array | ArrayBuffer,
  options: LoadCheckpointOptions = {},
): Promise<StateDict> {
  return loadPyTorchCheckpointSync(source, options);
}

export function loadPyTorchCheckpointSync(
  source: string | Uint8Array | ArrayBuffer,
  options: LoadCheckpointOptions = {},
): StateDict {
  let bytes: Uint8Array;
  let name: string;
  if (typeof source === 'string') {
    name = `'${source}'`;
    try {
      const b = fs.readFileSync(source);
      bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new CheckpointError(
        err.code === 'ENOENT' ? `checkpoint ${name} does not exist` : `cannot read checkpoint ${name}: ${err.message}`,
      );
    }
  } else {
    bytes = source instanceof Uint8Array ? source : new Uint8Array(source);
    name = 'checkpoint';
  }
  return findStateDict(readPyTorchFile(bytes, name), options, name);
}
