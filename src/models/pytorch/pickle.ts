/**
 * The subset of Python's pickle (protocols 0-5) that torch.save writes, as a small stack machine.
 *
 * Python values become: None -> null, bool -> boolean, int -> number (bigint past 2^53), float ->
 * number, str -> string, bytes -> Uint8Array, list and tuple -> Array, dict (and OrderedDict) ->
 * Map, set -> Set. Classes (GLOBAL / STACK_GLOBAL) are resolved by `findClass`; whatever it does not
 * know becomes a PyObject that records its class, arguments and state, so unusual objects in parts
 * of a checkpoint nobody reads (an optimizer's state, training metadata) never stop the load.
 * Persistent ids (torch's storages) go to `persistentLoad`.
 */

export class PickleError extends Error {
  constructor(message: string) {
    super(`pickle: ${message}`);
    this.name = 'PickleError';
  }
}

/** A Python class or function named by module and name. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of a class the reader does not model: its class, constructor arguments and state. */
export class PyObject {
  state: unknown = undefined;
  constructor(
    readonly cls: PyGlobal,
    readonly args: unknown[],
  ) {}
}

/** Calls a known global with arguments (REDUCE / NEWOBJ); undefined means "not known". */
export type CallGlobal = (global: PyGlobal, args: unknown[]) => unknown;

export interface UnpickleOptions {
  persistentLoad?: (pid: unknown) => unknown;
  call?: CallGlobal;
}

function numpyScalar(dtype: unknown, bytes: unknown): unknown {
  // numpy.core.multiarray.scalar(dtype('f8'), b'...'): training scripts store metrics like this.
  if (!(dtype instanceof PyObject) || !(bytes instanceof Uint8Array)) return undefined;
  const code = String(dtype.args[0] ?? '');
  const state = dtype.state as unknown[] | undefined;
  const little = !Array.isArray(state) || state[1] !== '>';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (code) {
    case 'f8':
      return view.getFloat64(0, little);
    case 'f4':
      return view.getFloat32(0, little);
    case 'i8':
      return Number(view.getBigInt64(0, little));
    case 'i4':
      return view.getInt32(0, little);
    case 'b1':
      return view.getUint8(0) !== 0;
    default:
      return undefined;
  }
}

/** The built-in classes and functions every torch pickle may use. */
function callBuiltin(g: PyGlobal, args: unknown[]): unknown {
  switch (g.qualifiedName) {
    case 'collections.OrderedDict':
    case 'builtins.dict':
    case '__builtin__.dict': {
      const m = new Map<unknown, unknown>();
      const items = args[0];
      if (Array.isArray(items)) for (const [k, v] of items as unknown[][]) m.set(k, v);
      return m;
    }
    case 'builtins.set':
    case 'builtins.frozenset':
    case '__builtin__.set':
      return new Set(Array.isArray(args[0]) ? args[0] : []);
    case 'builtins.list':
      return Array.isArray(args[0]) ? [...args[0]] : [];
    case 'builtins.tuple':
    case 'torch.Size':
      return Array.isArray(args[0]) ? [...args[0]] : [];
    case '_codecs.encode': {
      // Protocol-2 pickles of bytes: _codecs.encode('\x00...', 'latin1').
      const s = String(args[0]);
      const out = new Uint8Array(s.length);
      for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
      return out;
    }
    case 'builtins.bytearray':
      return args[0] instanceof Uint8Array ? new Uint8Array(args[0]) : new Uint8Array(0);
    case 'numpy.core.multiarray.scalar':
    case 'numpy._core.multiarray.scalar':
      return numpyScalar(args[0], args[1]);
    default:
      return undefined;
  }
}

/** Reads one pickle starting at `offset`; returns the value and the offset after its STOP. */
export function unpickle(data: Uint8Array, offset = 0, options: UnpickleOptions = {}): {value: unknown; end: number} {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const decoder = new TextDecoder('utf-8');
  let pos = offset;
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const need = (n: number) => {
    if (pos + n > data.length)
      throw new PickleError(`truncated: needs ${n} more bytes at offset ${pos}, data ends at ${data.length}`);
  };
  const u8 = () => {
    need(1);
    return data[pos++];
  };
  const u16 = () => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = () => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleError(`length ${v} at offset ${pos - 8} is too large`);
    return Number(v);
  };
  const bytes = (n: number) => {
    need(n);
    const b = data.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = () => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw new PickleError(`truncated: unterminated line at offset ${pos}`);
    const s = decoder.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = () => {
    if (stack.length === 0) throw new PickleError(`stack underflow at offset ${pos - 1}`);
    return stack.pop();
  };
  const popMark = () => {
    const items = stack;
    const prev = metastack.pop();
    if (prev == null) throw new PickleError(`MARK expected at offset ${pos - 1}`);
    stack = prev;
    return items;
  };
  const top = () => {
    if (stack.length === 0) throw new PickleError(`stack underflow at offset ${pos - 1}`);
    return stack[stack.length - 1];
  };
  const longFromBytes = (b: Uint8Array) => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const call = (fn: unknown, args: unknown[]): unknown => {
    if (!(fn instanceof PyGlobal)) {
      if (fn instanceof PyObject) return new PyObject(fn.cls, args);
      throw new PickleError(`cannot call ${typeof fn} at offset ${pos - 1}`);
    }
    const known = options.call?.(fn, args) ?? callBuiltin(fn, args);
    return known !== undefined ? known : new PyObject(fn, args);
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (target instanceof Map) {
      for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i], items[i + 1]);
    } else if (target instanceof PyObject) {
      // A dict subclass we do not model: keep its items as state.
      const m = target.state instanceof Map ? target.state : (target.state = new Map());
      for (let i = 0; i + 1 < items.length; i += 2) (m as Map<unknown, unknown>).set(items[i], items[i + 1]);
    } else {
      throw new PickleError(`SETITEM(S) on a non-dict at offset ${pos - 1}`);
    }
  };
  const appendItems = (target: unknown, items: unknown[]) => {
    if (Array.isArray(target)) target.push(...items);
    else if (target instanceof Set) items.forEach((i) => target.add(i));
    else throw new PickleError(`APPEND(S) on a non-list at offset ${pos - 1}`);
  };
  const persistent = (pid: unknown) => {
    if (options.persistentLoad == null)
      throw new PickleError(`persistent id ${JSON.stringify(String(pid))} but no persistent_load`);
    return options.persistentLoad(pid);
  };

  for (;;) {
    if (pos >= data.length) throw new PickleError(`truncated: no STOP opcode before offset ${data.length}`);
    const opAt = pos;
    const op = data[pos++];
    switch (op) {
      case 0x80:
        u8();
        break; // PROTO
      case 0x95:
        pos += 8;
        break; // FRAME (length ignored)
      case 0x2e:
        return {value: pop(), end: pos}; // STOP
      case 0x28:
        metastack.push(stack);
        stack = [];
        break; // MARK
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x4a:
        stack.push(i32());
        break; // BININT
      case 0x8a:
        stack.push(longFromBytes(bytes(u8())));
        break; // LONG1
      case 0x8b:
        stack.push(longFromBytes(bytes(i32())));
        break; // LONG4
      case 0x49: {
        // INT (text)
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : Number.parseInt(s, 10));
        break;
      }
      case 0x4c: {
        // LONG (text)
        const s = line().replace(/L$/, '');
        const v = BigInt(s);
        stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: {
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      } // BINFLOAT (big-endian)
      case 0x46:
        stack.push(Number.parseFloat(line()));
        break; // FLOAT (text)
      case 0x58:
        stack.push(decoder.decode(bytes(u32())));
        break; // BINUNICODE
      case 0x8c:
        stack.push(decoder.decode(bytes(u8())));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(decoder.decode(bytes(u64())));
        break; // BINUNICODE8
      case 0x56:
        stack.push(line());
        break; // UNICODE (raw-unicode-escape, ASCII here)
      case 0x54:
        stack.push(latin1(bytes(i32())));
        break; // BINSTRING (py2 str)
      case 0x55:
        stack.push(latin1(bytes(u8())));
        break; // SHORT_BINSTRING
      case 0x53:
        stack.push(line().replace(/^'(.*)'$|^"(.*)"$/, '$1$2'));
        break; // STRING
      case 0x42:
        stack.push(bytes(u32()).slice());
        break; // BINBYTES
      case 0x43:
        stack.push(bytes(u8()).slice());
        break; // SHORT_BINBYTES
      case 0x8e:
        stack.push(bytes(u64()).slice());
        break; // BINBYTES8
      case 0x96:
        stack.push(bytes(u64()).slice());
        break; // BYTEARRAY8
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x8f:
        stack.push(new Set());
        break; // EMPTY_SET
      // (popMark() replaces `stack`: call it before naming stack.push.)
      case 0x6c:
      case 0x74: {
        const items = popMark();
        stack.push(items);
        break;
      } // LIST, TUPLE
      case 0x85:
        stack.push([pop()]);
        break; // TUPLE1
      case 0x86: {
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      } // TUPLE3
      case 0x64: {
        // DICT
        const items = popMark();
        const m = new Map();
        setItems(m, items);
        stack.push(m);
        break;
      }
      case 0x91: {
        const items = popMark();
        stack.push(new Set(items));
        break;
      } // FROZENSET
      case 0x61: {
        const v = pop();
        appendItems(top(), [v]);
        break;
      } // APPEND
      case 0x65: {
        const items = popMark();
        appendItems(top(), items);
        break;
      } // APPENDS
      case 0x90: {
        const items = popMark();
        appendItems(top(), items);
        break;
      } // ADDITEMS
      case 0x73: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM
      case 0x75: {
        const items = popMark();
        setItems(top(), items);
        break;
      } // SETITEMS
      case 0x70:
        memo.set(Number.parseInt(line(), 10), top());
        break; // PUT
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x67:
        stack.push(memoGet(memo, Number.parseInt(line(), 10), opAt));
        break; // GET
      case 0x68:
        stack.push(memoGet(memo, u8(), opAt));
        break; // BINGET
      case 0x6a:
        stack.push(memoGet(memo, u32(), opAt));
        break; // LONG_BINGET
      case 0x63: {
        // GLOBAL
        const module = line();
        stack.push(new PyGlobal(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        stack.push(new PyGlobal(String(module), String(name)));
        break;
      }
      case 0x52:
      case 0x81:
      case 0x92: {
        // REDUCE, NEWOBJ, NEWOBJ_EX
        if (op === 0x92) pop(); // NEWOBJ_EX's kwargs: unused by the classes torch pickles
        const args = pop();
        const fn = pop();
        stack.push(call(fn, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const obj = top();
        if (obj instanceof PyObject) obj.state = state;
        // Maps (OrderedDict's _metadata), tensors (_rebuild_parameter state) keep no extra state.
        break;
      }
      case 0x51:
        stack.push(persistent(pop()));
        break; // BINPERSID
      case 0x50:
        stack.push(persistent(line()));
        break; // PERSID
      default:
        throw new PickleError(
          `unsupported opcode 0x${op.toString(16).padStart(2, '0')} at offset ${opAt}` +
            (opAt === offset ? ' (not a pickle?)' : ''),
        );
    }
  }
}

function memoGet(memo: Map<number, unknown>, key: number, at: number): unknown {
  if (!memo.has(key)) throw new PickleError(`memo key ${key} not found at offset ${at}`);
  return memo.get(key);
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}
