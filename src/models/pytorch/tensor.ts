/**
 * Tensors read from PyTorch checkpoints: a typed storage (loaded on first use) viewed through
 * torch's offset, sizes and strides, as _rebuild_tensor_v2 describes it. `gather` copies any view
 * out in any axis order, converting the dtype on the way, in one pass: that is how PyTorch layouts
 * (OIHW, OIDHW, ...) become tfjs layouts without an intermediate copy.
 */
import * as tf from '@tensorflow/tfjs-core';

export type TorchDType =
  'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

export const DTYPE_BYTES: {[d in TorchDType]: number} = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** torch.FloatStorage -> 'float32', ...; null when unknown. */
export function dtypeOfStorageClass(name: string): TorchDType | null {
  const m = /(\w+)Storage$/.exec(name);
  const map: {[k: string]: TorchDType} = {
    Float: 'float32',
    Half: 'float16',
    BFloat16: 'bfloat16',
    Double: 'float64',
    Long: 'int64',
    Int: 'int32',
    Short: 'int16',
    Char: 'int8',
    Byte: 'uint8',
    Bool: 'bool',
  };
  return m == null ? null : (map[m[1]] ?? null);
}

/** safetensors dtype names -> ours. */
export function dtypeOfSafetensors(name: string): TorchDType | null {
  const map: {[k: string]: TorchDType} = {
    F32: 'float32',
    F16: 'float16',
    BF16: 'bfloat16',
    F64: 'float64',
    I64: 'int64',
    I32: 'int32',
    I16: 'int16',
    I8: 'int8',
    U8: 'uint8',
    BOOL: 'bool',
  };
  return map[name] ?? null;
}

export class TorchStorage {
  private cached: Uint8Array | null = null;
  /**
   * @param numel elements in the storage
   * @param load returns the storage's bytes (little-endian); called once, on first use
   */
  constructor(
    readonly dtype: TorchDType,
    readonly numel: number,
    private readonly load: () => Uint8Array,
    readonly name = '',
  ) {}

  get bytes(): Uint8Array {
    if (this.cached == null) {
      const b = this.load();
      const need = this.numel * DTYPE_BYTES[this.dtype];
      if (b.byteLength < need) {
        throw new Error(
          `storage ${this.name} holds ${b.byteLength} bytes, but ${this.numel} ${this.dtype} ` +
            `elements need ${need}: the checkpoint is truncated or corrupt`,
        );
      }
      // Typed-array views need aligned offsets; copy when the bytes sit at an odd place.
      const size = DTYPE_BYTES[this.dtype];
      this.cached = b.byteOffset % size === 0 ? b : b.slice();
    }
    return this.cached;
  }

  /** Frees the bytes (they are read again on next use). */
  release(): void {
    this.cached = null;
  }
}

let halfTable: Float32Array | null = null;

function halfToFloatTable(): Float32Array {
  if (halfTable != null) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    halfTable[h] =
      exp === 0
        ? sign * frac * 2 ** -24
        : exp === 31
          ? frac === 0
            ? sign * Infinity
            : NaN
          : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return halfTable;
}

/** The storage as numbers: a typed array plus a per-element conversion where one is needed. */
function numericView(s: TorchStorage): {values: ArrayLike<number | bigint>; convert?: (v: number | bigint) => number} {
  const b = s.bytes;
  const n = s.numel;
  switch (s.dtype) {
    case 'float32':
      return {values: new Float32Array(b.buffer, b.byteOffset, n)};
    case 'float64':
      return {values: new Float64Array(b.buffer, b.byteOffset, n)};
    case 'int32':
      return {values: new Int32Array(b.buffer, b.byteOffset, n)};
    case 'int16':
      return {values: new Int16Array(b.buffer, b.byteOffset, n)};
    case 'int8':
      return {values: new Int8Array(b.buffer, b.byteOffset, n)};
    case 'uint8':
      return {values: new Uint8Array(b.buffer, b.byteOffset, n)};
    case 'bool':
      return {values: new Uint8Array(b.buffer, b.byteOffset, n), convert: (v) => (v ? 1 : 0)};
    case 'int64':
      return {values: new BigInt64Array(b.buffer, b.byteOffset, n), convert: (v) => Number(v)};
    case 'float16': {
      const table = halfToFloatTable();
      return {values: new Uint16Array(b.buffer, b.byteOffset, n), convert: (v) => table[v as number]};
    }
    case 'bfloat16': {
      const f = new Float32Array(1);
      const u = new Uint32Array(f.buffer);
      return {values: new Uint16Array(b.buffer, b.byteOffset, n), convert: (v) => ((u[0] = (v as number) << 16), f[0])};
    }
  }
}

export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly requiresGrad = false,
  ) {
    if (stride.length !== shape.length) {
      throw new Error(`tensor of shape [${shape}] has ${stride.length} strides: the checkpoint is corrupt`);
    }
  }

  /** A contiguous tensor over a fresh storage. */
  static contiguous(storage: TorchStorage, shape: number[], offset = 0): TorchTensor {
    const stride = new Array<number>(shape.length);
    let s = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      stride[i] = s;
      s *= shape[i];
    }
    return new TorchTensor(storage, offset, shape, stride);
  }

  get dtype(): TorchDType {
    return this.storage.dtype;
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /**
   * Copies the tensor out as float32 with its axes in the order `perm` (output axis i is tensor
   * axis perm[i]; default: as stored), e.g. perm [2, 3, 1, 0] turns OIHW into HWIO.
   */
  gather(perm?: number[]): Float32Array {
    const rank = this.shape.length;
    const order = perm ?? this.shape.map((_, i) => i);
    if (order.length !== rank || [...order].sort((a, b) => a - b).some((v, i) => v !== i)) {
      throw new Error(`permutation [${order}] does not fit a tensor of rank ${rank}`);
    }
    const shape = order.map((i) => this.shape[i]);
    const strides = order.map((i) => this.stride[i]);
    const out = new Float32Array(this.size);
    if (out.length === 0) return out;
    let last = this.offset;
    for (let i = 0; i < rank; i++) last += (shape[i] - 1) * strides[i];
    if (this.offset < 0 || last >= this.storage.numel) {
      throw new Error(
        `tensor of shape [${this.shape}] at offset ${this.offset} with strides [${this.stride}] reads ` +
          `past its storage ${this.storage.name} of ${this.storage.numel} elements: the checkpoint is corrupt`,
      );
    }
    const {values, convert} = numericView(this.storage);
    if (rank === 0) {
      out[0] = convert ? convert(values[this.offset]) : (values[this.offset] as number);
      return out;
    }
    const len = shape[rank - 1];
    const step = strides[rank - 1];
    const counters = new Array<number>(rank - 1).fill(0);
    const outer = out.length / len;
    let base = this.offset;
    let o = 0;
    for (let k = 0; k < outer; k++) {
      let p = base;
      if (convert == null) {
        const v = values as ArrayLike<number>;
        for (let j = 0; j < len; j++, p += step) out[o++] = v[p];
      } else {
        for (let j = 0; j < len; j++, p += step) out[o++] = convert(values[p]);
      }
      for (let d = rank - 2; d >= 0; d--) {
        base += strides[d];
        if (++counters[d] < shape[d]) break;
        base -= strides[d] * shape[d];
        counters[d] = 0;
      }
    }
    return out;
  }

  /** As a tfjs float32 tensor (axes permuted by `perm`, then reshaped to `shape` if given). */
  toTensor(perm?: number[], shape?: number[]): tf.Tensor {
    const order = perm ?? this.shape.map((_, i) => i);
    return tf.tensor(this.gather(perm), shape ?? order.map((i) => this.shape[i]), 'float32');
  }

  toString(): string {
    return `TorchTensor(${this.dtype}, [${this.shape}])`;
  }
}
