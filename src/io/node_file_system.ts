/**
 * A Node.js file-system IOHandler for tfjs models, without tfjs-node.
 *
 *   await model.save('models/net');                       // plain path: a directory
 *   await model.save('file:///abs/models/net');           // or a file:// URL
 *   const m = await tf.loadLayersModel('models/net/model.json');
 *   await model.save(nodeFileSystem('models/net', {shardSizeBytes: 4 << 20}));
 *
 * Importing this module registers a load and a save router for 'file://' URLs and for plain paths
 * (strings without a 'scheme://'). When another router claims the same URL (tfjs-node registers
 * one for 'file://'), ours steps aside, so the two never make tfjs report "more than one handler".
 *
 * Layout on disk is the converter's: model.json holds the topology and a weightsManifest whose
 * groups list the binary files (paths relative to model.json); weights may span several shards.
 */
import * as fs from 'fs';
import * as path from 'path';

import * as tf from '@tensorflow/tfjs-core';

type ModelArtifacts = tf.io.ModelArtifacts;
type WeightsManifestEntry = tf.io.WeightsManifestEntry;

export interface NodeFileSystemOptions {
  /**
   * Saving: split the weights into files of at most this many bytes ('group1-shard1ofN.bin', as
   * the tfjs converter names them). Default: one file, 'weights.bin'.
   */
  shardSizeBytes?: number;
}

const SCHEME = 'file://';
const MODEL_JSON = 'model.json';

function fail(message: string): never {
  throw new Error(`nodeFileSystem: ${message}`);
}

/** 'file:///a/b' -> '/a/b'; plain paths are returned as they are. */
function toPath(url: string): string {
  if (!url.startsWith(SCHEME)) return url;
  const rest = url.slice(SCHEME.length);
  return rest.length === 0 ? fail(`'${url}' names no path`) : decodeURIComponent(rest);
}

function bytesOf(spec: WeightsManifestEntry): number | null {
  const sizes: {[dtype: string]: number} = {
    float32: 4,
    int32: 4,
    bool: 1,
    complex64: 8,
    uint8: 1,
    uint16: 2,
    float16: 2,
  };
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const size = sizes[dtype];
  return size == null ? null : size * spec.shape.reduce((a, b) => a * b, 1);
}

function toArrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

function readFileOrFail(file: string, what: string, context = ''): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') fail(`${what} '${file}'${context} does not exist`);
    if (err.code === 'EISDIR') fail(`${what} '${file}'${context} is a directory, not a file`);
    fail(`cannot read ${what} '${file}'${context}: ${err.message}`);
  }
}

class NodeFileSystem implements tf.io.IOHandler {
  constructor(
    private readonly target: string,
    private readonly options: NodeFileSystemOptions = {},
  ) {
    const shard = options.shardSizeBytes;
    if (shard != null && !(Number.isInteger(shard) && shard > 0)) {
      fail(`shardSizeBytes must be a positive integer, got ${shard}`);
    }
  }

  /** The model.json to read: the target itself, or target/model.json when it is a directory. */
  private modelJsonPath(): string {
    const p = this.target;
    return fs.existsSync(p) && fs.statSync(p).isDirectory() ? path.join(p, MODEL_JSON) : p;
  }

  async load(): Promise<ModelArtifacts> {
    const file = this.modelJsonPath();
    const text = readFileOrFail(file, 'model file').toString('utf8');
    let json: tf.io.ModelJSON;
    try {
      json = JSON.parse(text);
    } catch (e) {
      fail(`model file '${file}' is not valid JSON: ${(e as Error).message}`);
    }
    if (json == null || typeof json !== 'object' || json.modelTopology == null) {
      fail(`model file '${file}' has no 'modelTopology': not a tfjs model.json`);
    }
    const dir = path.dirname(file);
    return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
      const specs: WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      let have = 0;
      for (const group of manifest) {
        specs.push(...group.weights);
        for (const p of group.paths) {
          const b = readFileOrFail(path.join(dir, p), 'weights file', ` (listed in the weightsManifest of '${file}')`);
          have += b.byteLength;
          buffers.push(toArrayBuffer(b));
        }
      }
      const need = specs.map(bytesOf);
      if (need.every((n) => n != null)) {
        const total = (need as number[]).reduce((a, b) => a + b, 0);
        if (total !== have) {
          fail(
            `the weights files of '${file}' hold ${have} bytes, but its weightsManifest needs ${total} ` +
              `(${specs.length} tensors): a shard is truncated, missing from the manifest, or from another model`,
          );
        }
      }
      return [specs, tf.io.CompositeArrayBuffer.join(buffers)];
    });
  }

  async save(artifacts: ModelArtifacts): Promise<tf.io.SaveResult> {
    if (artifacts.modelTopology instanceof ArrayBuffer) {
      fail('saving a binary (GraphDef) topology is not supported; save a LayersModel');
    }
    let dir = this.target;
    let jsonName = MODEL_JSON;
    if (dir.endsWith('.json')) {
      jsonName = path.basename(dir);
      dir = path.dirname(dir);
    }
    if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
      fail(`cannot save into '${dir}': it exists and is not a directory`);
    }
    try {
      fs.mkdirSync(dir, {recursive: true});
    } catch (e) {
      fail(`cannot create directory '${dir}': ${(e as Error).message}`);
    }
    const data = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? []));
    const shard = this.options.shardSizeBytes;
    const count = shard == null ? 1 : Math.max(1, Math.ceil(data.byteLength / shard));
    const paths: string[] = [];
    for (let i = 0; i < count; i++) {
      const name = shard == null ? 'weights.bin' : `group1-shard${i + 1}of${count}.bin`;
      const end = shard == null ? data.byteLength : Math.min(data.byteLength, (i + 1) * shard);
      fs.writeFileSync(path.join(dir, name), data.subarray(shard == null ? 0 : i * shard, end));
      paths.push(name);
    }
    const json: {[key: string]: unknown} = {
      modelTopology: artifacts.modelTopology,
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy,
      weightsManifest: [{paths, weights: artifacts.weightSpecs ?? []}],
    };
    for (const key of [
      'trainingConfig',
      'signature',
      'userDefinedMetadata',
      'modelInitializer',
      'initializerSignature',
    ] as const) {
      if (artifacts[key] != null) json[key] = artifacts[key];
    }
    fs.writeFileSync(path.join(dir, jsonName), JSON.stringify(json));
    return {modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts)};
  }
}

/**
 * An IOHandler reading and writing a model on the local file system. `target` is a path or a
 * 'file://' URL: for loading, the model.json (or a directory holding one); for saving, a directory
 * (model.json and the weights go inside) or a path ending in '.json'.
 */
export function nodeFileSystem(target: string, options?: NodeFileSystemOptions): tf.io.IOHandler {
  if (typeof target !== 'string' || target.length === 0)
    fail(`target must be a non-empty path, got ${JSON.stringify(target)}`);
  return new NodeFileSystem(toPath(target), options);
}

let probing = false;

/** Routes 'file://' URLs and plain paths to nodeFileSystem, unless another router claims them. */
function router(kind: 'load' | 'save'): (url: string | string[]) => tf.io.IOHandler {
  return (url: string | string[]) => {
    if (probing || typeof url !== 'string') return null as unknown as tf.io.IOHandler;
    const ours = url.startsWith(SCHEME) || (url.length > 0 && !/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(url));
    if (!ours) return null as unknown as tf.io.IOHandler;
    probing = true;
    let others: tf.io.IOHandler[];
    try {
      others = kind === 'load' ? tf.io.getLoadHandlers(url) : tf.io.getSaveHandlers(url);
    } finally {
      probing = false;
    }
    return (others.length > 0 ? null : nodeFileSystem(url)) as tf.io.IOHandler;
  };
}

let registered = false;

/** Registers the routers (done once, when this module is first imported). */
export function registerNodeFileSystemRouters(): void {
  if (registered) return;
  registered = true;
  tf.io.registerLoadRouter(router('load'));
  tf.io.registerSaveRouter(router('save'));
}

registerNodeFileSystemRouters();
