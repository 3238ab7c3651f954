// The argument reader and the exception wrapper shared by every family's entries.
#include "binding.h"

#include <cstdio>
#include <string>

namespace tfjs_delta {
namespace {

const char* typeName(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  if (napi_typeof(env, v, &t) != napi_ok) return "unknown";
  switch (t) {
    case napi_undefined: return "undefined";
    case napi_null: return "null";
    case napi_boolean: return "boolean";
    case napi_number: return "number";
    case napi_string: return "string";
    case napi_symbol: return "symbol";
    case napi_object: return "object";
    case napi_function: return "function";
    case napi_external: return "external";
    case napi_bigint: return "bigint";
  }
  return "unknown";
}

bool isUndefined(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  return napi_typeof(env, v, &t) == napi_ok && t == napi_undefined;
}

}  // namespace

Fields::Fields(const Napi::CallbackInfo& info) : env_(info.Env()) {
  napi_valuetype t = napi_undefined;
  if (info.Length() != 1 || napi_typeof(env_, info[0], &t) != napi_ok || t != napi_object)
    throw Error(std::string("expects one object of named fields, got ") + std::to_string(info.Length()) +
                " argument(s)" + (info.Length() ? std::string(", the first a ") + typeName(env_, info[0]) : ""));
  obj_ = info[0];
}

napi_value Fields::get(const char* field) const {
  napi_value v = nullptr;
  if (napi_get_named_property(env_, obj_, field, &v) != napi_ok) {
    // A throwing getter leaves a pending JS exception: let it through as it is.
    throw Napi::Env(env_).GetAndClearPendingException();
  }
  return v;
}

std::string Fields::pathOf(const char* field) const {
  return path_ ? std::string(path_) + "." + field : std::string(field);
}

void Fields::bad(const char* field, napi_value v, const char* want) const {
  if (isUndefined(env_, v)) throw Error("missing field '" + pathOf(field) + "' (" + want + ")");
  throw Error("field '" + pathOf(field) + "' must be " + want + ", got " + typeName(env_, v));
}

double Fields::number(const char* field) const {
  napi_value v = get(field);
  double d = 0;
  if (napi_get_value_double(env_, v, &d) != napi_ok) bad(field, v, "a number");
  return d;
}

int Fields::i32(const char* field) const {
  const double d = number(field);
  if (!(d >= -2147483648.0 && d <= 2147483647.0)) {
    char value[32];
    std::snprintf(value, sizeof(value), "%.17g", d);
    throw Error("field '" + pathOf(field) + "' = " + value + " is out of the int range");
  }
  return static_cast<int>(d);
}

bool Fields::flag(const char* field) const {
  napi_value v = get(field);
  bool b = false;
  if (napi_get_value_bool(env_, v, &b) != napi_ok) bad(field, v, "a boolean");
  return b;
}

bool Fields::missing(const char* field) const { return isUndefined(env_, get(field)); }

bool Fields::optFlag(const char* field, bool whenMissing) const {
  napi_value v = get(field);
  if (isUndefined(env_, v)) return whenMissing;
  bool b = false;
  if (napi_get_value_bool(env_, v, &b) != napi_ok) bad(field, v, "a boolean");
  return b;
}

int Fields::ints(const char* field, int64_t* out, int max) const {
  napi_value v = get(field);
  bool isArray = false;
  uint32_t n = 0;
  if (napi_is_array(env_, v, &isArray) != napi_ok || !isArray || napi_get_array_length(env_, v, &n) != napi_ok)
    bad(field, v, "an array of numbers");
  if (n > static_cast<uint32_t>(max))
    throw Error("field '" + pathOf(field) + "' has " + std::to_string(n) + " elements, at most " + std::to_string(max));
  for (uint32_t k = 0; k < n; ++k) {
    napi_value e = nullptr;
    double d = 0;
    if (napi_get_element(env_, v, k, &e) != napi_ok || napi_get_value_double(env_, e, &d) != napi_ok)
      throw Error("field '" + pathOf(field) + "' must be an array of numbers, element " + std::to_string(k) + " is " +
                  (e ? typeName(env_, e) : "unreadable"));
    out[k] = static_cast<int64_t>(d);
  }
  return static_cast<int>(n);
}

void* Fields::bytes(const char* field, size_t* byteLength) const {
  napi_value v = get(field);
  bool isTyped = false;
  if (napi_is_typedarray(env_, v, &isTyped) != napi_ok || !isTyped) bad(field, v, "a TypedArray");
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = nullptr;
  napi_value buffer = nullptr;
  if (napi_get_typedarray_info(env_, v, &type, &length, &data, &buffer, &offset) != napi_ok)
    bad(field, v, "a TypedArray");
  // `data` already points at the view's first element; its length counts elements of `type`.
  size_t elem = 1;
  switch (type) {
    case napi_int16_array:
    case napi_uint16_array: elem = 2; break;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: elem = 4; break;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: elem = 8; break;
    default: elem = 1;
  }
  *byteLength = length * elem;
  return data;
}

Fields Fields::object(const char* field) const {
  napi_value v = get(field);
  napi_valuetype t = napi_undefined;
  if (napi_typeof(env_, v, &t) != napi_ok || t != napi_object) bad(field, v, "an object of named fields");
  return Fields(env_, v, field);
}

Dims makeDims(const int64_t* shape, int rank, const int64_t* strides) {
  Dims d{};
  d.rank = rank;
  int64_t s = 1;
  for (int k = rank - 1; k >= 0; --k) {
    d.shape[k] = shape[k];
    d.stride[k] = strides ? strides[k] : s;
    s *= shape[k];
  }
  return d;
}

void broadcastDims(const Fields& f, Dims* a, Dims* b, Dims* out) {
  int64_t shape[kMaxRank], as[kMaxRank], bs[kMaxRank];
  const int rank = f.ints("outShape", shape, kMaxRank);
  if (f.ints("aStrides", as, kMaxRank) != rank) throw Error("field 'aStrides' differs in rank from 'outShape'");
  if (f.ints("bStrides", bs, kMaxRank) != rank) throw Error("field 'bStrides' differs in rank from 'outShape'");
  *a = makeDims(shape, rank, as);
  *b = makeDims(shape, rank, bs);
  *out = makeDims(shape, rank, nullptr);
}
namespace {

Napi::Value dispatch(const Napi::CallbackInfo& info) {
  const Entry* e = static_cast<const Entry*>(info.Data());
  try {
    return e->fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& ex) {
    throw Napi::Error::New(info.Env(), std::string("tfjs-delta cuda.") + e->name + ": " + ex.what());
  } catch (...) {
    throw Napi::Error::New(info.Env(), std::string("tfjs-delta cuda.") + e->name + ": non-standard C++ exception");
  }
}

}  // namespace

void defineEntries(Napi::Env env, Napi::Object exports, const Entry* entries, size_t count) {
  for (size_t i = 0; i < count; ++i)
    exports.Set(entries[i].name, Napi::Function::New(env, dispatch, entries[i].name, const_cast<Entry*>(&entries[i])));
}

}  // namespace tfjs_delta
