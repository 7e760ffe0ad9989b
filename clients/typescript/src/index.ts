/**
 * weightinit TypeScript SDK: the generated types (./schema.ts, from openapi.json) plus what a
 * generator cannot know: .npy / safetensors parsing, problem+json errors, 64-bit seeds.
 */
import createFetchClient from "openapi-fetch";
import type { Client as FetchClient, ClientOptions } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };
export type Schemas = components["schemas"];
export type DType = Schemas["DType"];
export type Problem = Schemas["Problem"];
export type WeightinitClient = FetchClient<paths>;

/** A seed: 0..2**64-1. Use a bigint or a decimal string above Number.MAX_SAFE_INTEGER. */
export type Seed = number | bigint | string;
export type WeightsRequest = Omit<Schemas["WeightsRequest"], "seed"> & { seed: Seed };
export type ModelRequest = Omit<Schemas["ModelRequest"], "seed"> & { seed: Seed };

/** The dtypes the service serves (the TensorOut enum). */
export type TensorDType = "float32" | "float64" | "float16" | "bfloat16" | "int64";
export type TypedData = Float32Array | Float64Array | Uint16Array | BigInt64Array;

export interface Tensor {
  dtype: TensorDType;
  shape: number[];
  /** float16 and bfloat16 are raw bit patterns (Uint16Array); `dtype` says which. */
  data: TypedData;
}

/** A binary tensor response: the parsed tensor(s) plus the server's per-tensor sha256. */
export interface BinaryResult<T> {
  value: T;
  bytes: ArrayBuffer;
  /** From `X-Weightinit-Sha256: name=hex,name=hex`. */
  sha256: Record<string, string>;
  requestId: string | null;
}

/** One `errors` entry of a problem+json body. */
export interface FieldError {
  field: string;
  message: string;
}

/** Any non-2xx answer, carrying the RFC 9457 problem+json fields. */
export class WeightinitError extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly type: string;
  readonly instance: string | null;
  readonly errors: FieldError[];
  readonly requestId: string | null;
  /** The whole body (problem+json carries extra members, e.g. `limit`, `value`). */
  readonly body: unknown;

  constructor(status: number, body: unknown, requestId: string | null = null) {
    const p = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
    const title = str(p.title) ?? `HTTP ${status}`;
    const detail = str(p.detail) ?? (typeof body === "string" ? body : "");
    super(detail ? `${status} ${title}: ${detail}` : `${status} ${title}`);
    this.name = "WeightinitError";
    this.status = typeof p.status === "number" ? p.status : status;
    this.title = title;
    this.detail = detail;
    this.type = str(p.type) ?? "about:blank";
    this.instance = str(p.instance);
    this.requestId = str(p.request_id) ?? requestId;
    this.errors = Array.isArray(p.errors)
      ? p.errors.map((e: Record<string, unknown>) => ({
          field: String(e?.field ?? ""),
          message: String(e?.message ?? ""),
        }))
      : [];
    this.body = body;
  }
}

export type CreateClientOptions = Omit<ClientOptions, "baseUrl"> & {
  baseUrl: string;
  /**
   * API key for a service that has API keys, sent as `Authorization: Bearer <key>` (an
   * explicit Authorization header wins). Default: `WEIGHTINIT_API_KEY` from the environment
   * (Node); `null` sends none.
   */
  apiKey?: string | null;
};

function envApiKey(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env;
  return env?.WEIGHTINIT_API_KEY || undefined;
}

/** An openapi-fetch client typed by the generated `paths`. */
export function createClient(options: string | CreateClientOptions): WeightinitClient {
  const { apiKey, ...opts } = typeof options === "string" ? { baseUrl: options } : options;
  const key = apiKey === undefined ? envApiKey() : apiKey;
  const headers = new Headers(opts.headers as HeadersInit | undefined);
  if (key && !headers.has("authorization")) headers.set("Authorization", `Bearer ${key}`);
  return createFetchClient<paths>({
    ...opts,
    headers,
    baseUrl: opts.baseUrl.replace(/\/+$/, ""),
  });
}

/** Seeds above 2**53 go as decimal strings; unsafe plain numbers are refused (already rounded). */
export function encodeSeed(seed: Seed): number | string {
  if (typeof seed === "bigint") {
    return seed <= BigInt(Number.MAX_SAFE_INTEGER) && seed >= 0n ? Number(seed) : seed.toString();
  }
  if (typeof seed === "number" && Number.isInteger(seed) && !Number.isSafeInteger(seed)) {
    throw new RangeError(
      `seed ${seed} is above 2**53 and has lost precision; pass a bigint or a decimal string`,
    );
  }
  return seed;
}

function withSeed<T extends { seed: Seed }>(body: T): Omit<T, "seed"> & { seed: number | string } {
  return { ...body, seed: encodeSeed(body.seed) };
}

function shaHeader(response: Response): Record<string, string> {
  const raw = response.headers.get("x-weightinit-sha256") ?? "";
  const out: Record<string, string> = {};
  for (const item of raw.split(",")) {
    const at = item.indexOf("=");
    if (at > 0) out[item.slice(0, at).trim()] = item.slice(at + 1).trim();
  }
  return out;
}

function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) {
    throw new WeightinitError(
      result.response.status,
      result.error,
      result.response.headers.get("x-request-id"),
    );
  }
  return result.data as T;
}

export interface WeightsOptions {
  /** Only this tensor. */
  tensor?: string;
  jsonLayout?: "flat" | "nested";
  encoding?: "numbers" | "base64";
  signal?: AbortSignal;
}

/** POST /v1/weights as JSON. */
export async function weights(
  client: WeightinitClient,
  request: WeightsRequest,
  options: WeightsOptions = {},
): Promise<Schemas["WeightsResponse"]> {
  const result = await client.POST("/v1/weights", {
    body: withSeed(request),
    params: {
      query: {
        format: "json",
        ...(options.tensor !== undefined && { tensor: options.tensor }),
        ...(options.jsonLayout !== undefined && { json_layout: options.jsonLayout }),
        ...(options.encoding !== undefined && { encoding: options.encoding }),
      },
    },
    signal: options.signal,
  });
  // format=json: the binary content types of the 200 union cannot occur.
  return unwrap(result) as Schemas["WeightsResponse"];
}

/** The tensors of a JSON response (flat numbers or base64) as typed arrays. */
export function jsonTensors(response: Schemas["WeightsResponse"]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const t of response.tensors) {
    const dtype = t.dtype as TensorDType;
    if (typeof t.data === "string") {
      const buf = Buffer.from(t.data, "base64");
      const bytes = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
      out[t.name] = { dtype, shape: t.shape, data: typedArray(dtype, bytes, 0, count(t.shape)) };
      continue;
    }
    const flat = (Array.isArray(t.data) ? t.data : [t.data]).flat(Infinity as 1) as unknown[];
    let data: TypedData;
    if (dtype === "float32") data = Float32Array.from(flat as number[]);
    else if (dtype === "float64") data = Float64Array.from(flat as number[]);
    else if (dtype === "int64") data = BigInt64Array.from(flat, (v) => BigInt(v as number));
    else {
      throw new TypeError(`${dtype} from JSON numbers is lossy here; use encoding=base64 or npy`);
    }
    out[t.name] = { dtype, shape: t.shape, data };
  }
  return out;
}

async function binary(
  client: WeightinitClient,
  path: "/v1/weights.npy" | "/v1/weights.safetensors" | "/v1/models.safetensors",
  body: Record<string, unknown>,
  query: Record<string, string> | undefined,
  signal: AbortSignal | undefined,
): Promise<{ bytes: ArrayBuffer; response: Response }> {
  // The three operations share request/response shapes; the union defeats overload selection.
  const post = client.POST as unknown as (
    p: string,
    init: Record<string, unknown>,
  ) => Promise<{ data?: ArrayBuffer; error?: unknown; response: Response }>;
  const result = await post(path, {
    body,
    params: { query },
    parseAs: "arrayBuffer",
    signal,
  });
  return { bytes: unwrap(result), response: result.response };
}

/** POST /v1/weights.npy: one tensor parsed from .npy; `options.tensor` names it (required
 * when the layer has several tensors: the server answers 422 without it). */
export async function weightsNpy(
  client: WeightinitClient,
  request: WeightsRequest,
  options: { tensor?: string; signal?: AbortSignal } = {},
): Promise<BinaryResult<Tensor>> {
  const query = options.tensor !== undefined ? { tensor: options.tensor } : undefined;
  const { bytes, response } = await binary(
    client,
    "/v1/weights.npy",
    withSeed(request),
    query,
    options.signal,
  );
  return {
    value: parseNpy(bytes),
    bytes,
    sha256: shaHeader(response),
    requestId: response.headers.get("x-request-id"),
  };
}

/** Options of the safetensors downloads. */
export interface SafetensorsOptions {
  /** Put the init manifest into the file's `__metadata__` (`auditSafetensors` reads it). */
  manifest?: boolean;
  signal?: AbortSignal;
}

function manifestQuery(options: SafetensorsOptions): Record<string, string> | undefined {
  return options.manifest ? { manifest: "true" } : undefined;
}

/** POST /v1/weights.safetensors: every tensor of one layer. */
export async function weightsSafetensors(
  client: WeightinitClient,
  request: WeightsRequest,
  options: SafetensorsOptions = {},
): Promise<BinaryResult<Record<string, Tensor>>> {
  const { bytes, response } = await binary(
    client,
    "/v1/weights.safetensors",
    withSeed(request),
    manifestQuery(options),
    options.signal,
  );
  return {
    value: parseSafetensors(bytes),
    bytes,
    sha256: shaHeader(response),
    requestId: response.headers.get("x-request-id"),
  };
}

/** POST /v1/models.safetensors: many named layers in one file. */
export async function modelSafetensors(
  client: WeightinitClient,
  request: ModelRequest,
  options: SafetensorsOptions = {},
): Promise<BinaryResult<Record<string, Tensor>>> {
  const { bytes, response } = await binary(
    client,
    "/v1/models.safetensors",
    withSeed(request),
    manifestQuery(options),
    options.signal,
  );
  return {
    value: parseSafetensors(bytes),
    bytes,
    sha256: shaHeader(response),
    requestId: response.headers.get("x-request-id"),
  };
}

// ---------------------------------------------------------------- binary formats

const NPY_DESCR: Record<string, TensorDType> = {
  "<f4": "float32",
  "<f8": "float64",
  "<f2": "float16",
  "<i8": "int64",
};
const ST_DTYPE: Record<string, TensorDType> = {
  F32: "float32",
  F64: "float64",
  F16: "float16",
  BF16: "bfloat16",
  I64: "int64",
};
const ITEMSIZE: Record<TensorDType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
};

function count(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A typed array over a copy of `n` little-endian items at `offset` (copied: alignment-safe). */
function typedArray(dtype: TensorDType, buffer: ArrayBuffer, offset: number, n: number): TypedData {
  const size = ITEMSIZE[dtype];
  if (offset + n * size > buffer.byteLength) {
    throw new RangeError(`truncated tensor data: need ${n * size} bytes at offset ${offset}`);
  }
  const copy = buffer.slice(offset, offset + n * size);
  // The service always sends little-endian; every platform node runs on is little-endian too.
  switch (dtype) {
    case "float32":
      return new Float32Array(copy);
    case "float64":
      return new Float64Array(copy);
    case "int64":
      return new BigInt64Array(copy);
    default:
      return new Uint16Array(copy);
  }
}

/** Parse a .npy file (versions 1-3, little-endian, C order). */
export function parseNpy(buffer: ArrayBuffer): Tensor {
  const bytes = new Uint8Array(buffer);
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) {
    throw new TypeError("not a .npy file (bad magic)");
  }
  const view = new DataView(buffer);
  const major = bytes[6];
  const [headerLen, start] = major === 1 ? [view.getUint16(8, true), 10] : [view.getUint32(8, true), 12];
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(start, start + headerLen),
  );
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || shapeText === undefined) {
    throw new TypeError(`unparseable .npy header: ${header}`);
  }
  if (fortran === "True") throw new TypeError("Fortran-order .npy is not supported");
  const dtype = NPY_DESCR[descr];
  if (dtype === undefined) throw new TypeError(`unsupported .npy dtype ${descr}`);
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(Number);
  return { dtype, shape, data: typedArray(dtype, buffer, start + headerLen, count(shape)) };
}

/** Tensor entries by name (and `__metadata__`, a string map, which readers skip). */
type SafetensorsHeader = Record<
  string,
  { dtype: string; shape: number[]; data_offsets: [number, number] }
>;

/** A safetensors file's JSON header and the offset its data starts at. */
function safetensorsHeader(buffer: ArrayBuffer): { header: SafetensorsHeader; base: number } {
  if (buffer.byteLength < 8) throw new TypeError("not a safetensors file (too short)");
  const n = new DataView(buffer).getBigUint64(0, true);
  if (n > BigInt(buffer.byteLength - 8)) throw new TypeError("safetensors header overruns the file");
  const header = JSON.parse(
    new TextDecoder("utf-8").decode(new Uint8Array(buffer, 8, Number(n))),
  ) as SafetensorsHeader;
  return { header, base: 8 + Number(n) };
}

/** Parse a safetensors file into named tensors (`__metadata__` skipped). */
export function parseSafetensors(buffer: ArrayBuffer): Record<string, Tensor> {
  const { header, base } = safetensorsHeader(buffer);
  const out: Record<string, Tensor> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const dtype = ST_DTYPE[info.dtype];
    if (dtype === undefined) throw new TypeError(`unsupported safetensors dtype ${info.dtype}`);
    const [begin, end] = info.data_offsets;
    const items = count(info.shape);
    if (end - begin !== items * ITEMSIZE[dtype]) {
      throw new TypeError(`safetensors tensor ${name}: offsets do not match shape and dtype`);
    }
    out[name] = { dtype, shape: info.shape, data: typedArray(dtype, buffer, base + begin, items) };
  }
  return out;
}

/** The little-endian bytes of a tensor's data (what the service's sha256 covers). */
export function tensorBytes(tensor: Tensor): Uint8Array {
  const d = tensor.data;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

// ---------------------------------------------------------------- digests and verification

export type DigestsResponse = Schemas["DigestsResponse"];

/** POST /v1/weights/digests: the sha256 of each tensor (and 65 536-element block), no data. */
export async function digestWeights(
  client: WeightinitClient,
  request: WeightsRequest,
  options: { tensor?: string; blocks?: boolean; signal?: AbortSignal } = {},
): Promise<DigestsResponse> {
  const result = await client.POST("/v1/weights/digests", {
    body: withSeed(request),
    params: {
      query: {
        ...(options.tensor !== undefined && { tensor: options.tensor }),
        ...(options.blocks !== undefined && { blocks: options.blocks }),
      },
    },
    signal: options.signal,
  });
  return unwrap(result);
}

/** POST /v1/models/digests: the sha256 of every tensor of a model (or one rank's shards). */
export async function digestModel(
  client: WeightinitClient,
  request: ModelRequest,
  options: { blocks?: boolean; signal?: AbortSignal } = {},
): Promise<DigestsResponse> {
  const result = await client.POST("/v1/models/digests", {
    body: withSeed(request),
    params: { query: { ...(options.blocks !== undefined && { blocks: options.blocks }) } },
    signal: options.signal,
  });
  return unwrap(result);
}

/**
 * Check received tensors against the service's digests (from `digestWeights`/`digestModel`,
 * or a response's X-Weightinit-Sha256 map): throws a WeightinitError naming the first tensor
 * whose bytes differ or that is missing.
 */
export async function verifyTensors(
  tensors: Record<string, Tensor>,
  digests: DigestsResponse | Record<string, string>,
): Promise<void> {
  const { createHash } = await import("node:crypto");
  const expected: Record<string, string> =
    "tensors" in digests && Array.isArray(digests.tensors)
      ? Object.fromEntries(
          (digests as DigestsResponse).tensors.map((t) => [t.name, t.sha256] as const),
        )
      : (digests as Record<string, string>);
  for (const [name, sha] of Object.entries(expected)) {
    const tensor = tensors[name];
    const got = tensor ? createHash("sha256").update(tensorBytes(tensor)).digest("hex") : "missing";
    if (got !== sha) {
      throw new WeightinitError(0, {
        title: "digest mismatch",
        detail: `tensor ${name}: sha256 ${got} != ${sha}`,
      });
    }
  }
}

// ---------------------------------------------------------------- audit

export type TensorStats = Schemas["TensorStats"];
export type Manifest = Schemas["Manifest"];
export type AuditResponse = Schemas["AuditResponse"];
/**
 * The body of POST /v1/audit. `tensors` is restated with `TensorStats`: the schema says it with
 * `patternProperties` (the name alphabet), which openapi-typescript 7 types as
 * `Record<string, never>`; `request` takes the SDK's request types (64-bit seeds).
 */
export type AuditRequest = Omit<Schemas["AuditRequest"], "tensors" | "request"> & {
  tensors: Record<string, TensorStats>;
  request?: WeightsRequest | ModelRequest | null;
};

/** The `__metadata__` key under which the service writes the init manifest (a JSON string). */
export const MANIFEST_KEY = "weightinit.manifest";

/** A tensor's values as float64 (float16 and bfloat16 bit patterns decoded, int64 widened). */
function float64Values(tensor: Tensor): Float64Array {
  const { data } = tensor;
  if (data instanceof Float64Array) return data;
  if (data instanceof Float32Array) return Float64Array.from(data);
  if (data instanceof BigInt64Array) return Float64Array.from(data, (v) => Number(v));
  if (tensor.dtype === "bfloat16") {
    const widened = new Uint32Array(data.length);
    for (let i = 0; i < data.length; i++) widened[i] = data[i]! << 16;
    return Float64Array.from(new Float32Array(widened.buffer));
  }
  return Float64Array.from(data, halfToNumber);
}

/** An IEEE 754 binary16 bit pattern as a number. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * What POST /v1/audit compares: the tensor's shape, dtype and numel, and the float64 mean,
 * population std (ddof 0), min and max of its values (two passes; none when it is empty).
 */
export function tensorStats(tensor: Tensor): TensorStats {
  const values = float64Values(tensor);
  const n = values.length;
  const stats: TensorStats = { shape: [...tensor.shape], dtype: tensor.dtype, numel: n };
  if (n === 0) return stats;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / n;
  let m2 = 0;
  for (const v of values) m2 += (v - mean) * (v - mean);
  return { ...stats, mean, std: Math.sqrt(m2 / n), min, max };
}

/** `tensorStats` of every tensor of a `{name: Tensor}` map (e.g. a parsed safetensors file). */
export function stateStats(tensors: Record<string, Tensor>): Record<string, TensorStats> {
  return Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, tensorStats(t)]));
}

/** A manifest (its `format` says so, or its `tensors` is a list), not a request body. */
export function isManifest(document: unknown): document is Manifest {
  const d = (typeof document === "object" && document !== null ? document : {}) as Record<
    string,
    unknown
  >;
  return String(d.format ?? "").startsWith("weightinit.manifest") || Array.isArray(d.tensors);
}

/** The body of POST /v1/audit: `expected` a manifest or a /v1/weights or /v1/models body. */
export function auditBody(
  expected: WeightsRequest | ModelRequest | Manifest,
  tensors: Record<string, TensorStats>,
  z?: number,
): AuditRequest {
  const body: AuditRequest = isManifest(expected)
    ? { manifest: expected, tensors }
    : { request: expected as WeightsRequest | ModelRequest, tensors };
  if (z !== undefined) body.z = z;
  return body;
}

/** POST /v1/audit with a ready body (statistics already computed). */
export async function auditStats(
  client: WeightinitClient,
  body: AuditRequest,
  options: { signal?: AbortSignal } = {},
): Promise<AuditResponse> {
  const request = body.request ? withSeed(body.request) : body.request;
  const result = await client.POST("/v1/audit", {
    // The generated type cannot hold the tensors map (see AuditRequest).
    body: { ...body, request } as unknown as Schemas["AuditRequest"],
    signal: options.signal,
  });
  return unwrap(result);
}

/**
 * POST /v1/audit: check `tensors` (`{name: Tensor}`, e.g. `parseSafetensors` of a file) against
 * `expected`, the /v1/weights or /v1/models request they should follow or an init manifest.
 * The statistics are computed here; only they are sent. Each tensor of the report has a
 * `verdict`; `summary.passed` says whether all are ok.
 */
export async function audit(
  client: WeightinitClient,
  expected: WeightsRequest | ModelRequest | Manifest,
  tensors: Record<string, Tensor>,
  options: { z?: number; signal?: AbortSignal } = {},
): Promise<AuditResponse> {
  return auditStats(client, auditBody(expected, stateStats(tensors), options.z), options);
}

/** The init manifest in a safetensors file's `__metadata__` (downloaded with `manifest: true`). */
export function safetensorsManifest(buffer: ArrayBuffer): Manifest | null {
  const metadata = safetensorsHeader(buffer).header.__metadata__ as unknown as
    | Record<string, string>
    | undefined;
  const text = metadata?.[MANIFEST_KEY];
  return typeof text === "string" ? (JSON.parse(text) as Manifest) : null;
}

/**
 * POST /v1/audit for a safetensors file's bytes: against `options.request` when given, else
 * against the init manifest in its `__metadata__` (a TypeError when it has none).
 */
export async function auditSafetensors(
  client: WeightinitClient,
  buffer: ArrayBuffer,
  options: { request?: WeightsRequest | ModelRequest; z?: number; signal?: AbortSignal } = {},
): Promise<AuditResponse> {
  const expected = options.request ?? safetensorsManifest(buffer);
  if (expected === null) {
    throw new TypeError(
      "the file has no init manifest in its __metadata__ (download it with manifest: true): " +
        "give the request it was made from, { request }",
    );
  }
  return audit(client, expected, parseSafetensors(buffer), options);
}

/** POST /v1/models/manifest: a model request's init manifest, without the tensors. */
export async function manifestModel(
  client: WeightinitClient,
  request: ModelRequest,
  options: { signal?: AbortSignal } = {},
): Promise<Manifest> {
  const result = await client.POST("/v1/models/manifest", {
    body: withSeed(request),
    signal: options.signal,
  });
  return unwrap(result);
}
