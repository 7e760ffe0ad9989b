// Node's own runner against a live server: WEIGHTINIT_URL (e.g. http://127.0.0.1:8000).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";

import {
  MANIFEST_KEY,
  WeightinitError,
  audit,
  auditBody,
  auditSafetensors,
  createClient,
  digestWeights,
  encodeSeed,
  jsonTensors,
  manifestModel,
  modelSafetensors,
  parseNpy,
  parseSafetensors,
  safetensorsManifest,
  tensorBytes,
  tensorStats,
  verifyTensors,
  weights,
  weightsNpy,
  weightsSafetensors,
  type ModelRequest,
  type Tensor,
  type WeightsRequest,
} from "../src/index.js";

const URL = process.env.WEIGHTINIT_URL;
const live = { skip: URL ? false : "WEIGHTINIT_URL is not set (no live server)" };
const client = createClient(URL ?? "http://127.0.0.1:9");

const sha256 = (t: Tensor): string => createHash("sha256").update(tensorBytes(t)).digest("hex");

const DENSE: WeightsRequest = {
  layer: { kind: "dense", in_features: 7, out_features: 5 },
  scheme: "he_uniform",
  seed: 2024,
};

describe("offline parsers", () => {
  test("parseNpy reads a v1 float32 header and data", () => {
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
    const padded = header.padEnd(128 - 10 - 1, " ") + "\n";
    const bytes = new Uint8Array(10 + padded.length + 16);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(bytes.buffer).setUint16(8, padded.length, true);
    bytes.set(new TextEncoder().encode(padded), 10);
    new Float32Array(bytes.buffer, 10 + padded.length, 4).set([1, -2, 0.5, 3]);
    const t = parseNpy(bytes.buffer);
    assert.equal(t.dtype, "float32");
    assert.deepEqual(t.shape, [2, 2]);
    assert.deepEqual(Array.from(t.data as Float32Array), [1, -2, 0.5, 3]);
  });

  test("parseNpy refuses garbage", () => {
    assert.throws(() => parseNpy(new Uint8Array(20).buffer), /bad magic/);
  });

  test("parseSafetensors reads names, dtypes and shapes", () => {
    const header = JSON.stringify({
      __metadata__: { x: "y" },
      a: { dtype: "F64", shape: [2], data_offsets: [0, 16] },
      b: { dtype: "BF16", shape: [1, 3], data_offsets: [16, 22] },
    });
    const h = new TextEncoder().encode(header);
    const buf = new Uint8Array(8 + h.length + 22);
    new DataView(buf.buffer).setBigUint64(0, BigInt(h.length), true);
    buf.set(h, 8);
    new DataView(buf.buffer).setFloat64(8 + h.length, 1.5, true);
    new DataView(buf.buffer).setFloat64(8 + h.length + 8, -2.25, true);
    new DataView(buf.buffer).setUint16(8 + h.length + 16, 0x3f80, true);
    const out = parseSafetensors(buf.buffer);
    assert.deepEqual(Object.keys(out).sort(), ["a", "b"]);
    assert.deepEqual(Array.from(out.a!.data as Float64Array), [1.5, -2.25]);
    assert.equal(out.b!.dtype, "bfloat16");
    assert.ok(out.b!.data instanceof Uint16Array);
    assert.equal(out.b!.data[0], 0x3f80);
  });

  test("encodeSeed sends big seeds as decimal strings", () => {
    assert.equal(encodeSeed(42), 42);
    assert.equal(encodeSeed(42n), 42);
    assert.equal(encodeSeed(2n ** 64n - 1n), "18446744073709551615");
    assert.equal(encodeSeed("9007199254740993"), "9007199254740993");
    assert.throws(() => encodeSeed(2 ** 60), RangeError);
  });
});

describe("API keys", () => {
  // A fetch that records the Authorization header the SDK sends and answers an empty list.
  const recording = (seen: (string | null)[]) => async (input: Request) => {
    seen.push(input.headers.get("authorization"));
    return new Response("[]", { headers: { "content-type": "application/json" } });
  };

  test("apiKey is sent as a Bearer token", async () => {
    const seen: (string | null)[] = [];
    const keyed = createClient({ baseUrl: "http://x", apiKey: "k-1", fetch: recording(seen) });
    await keyed.GET("/v1/schemes");
    assert.deepEqual(seen, ["Bearer k-1"]);
  });

  test("WEIGHTINIT_API_KEY is the default; null sends no key", async () => {
    const seen: (string | null)[] = [];
    const saved = process.env.WEIGHTINIT_API_KEY;
    process.env.WEIGHTINIT_API_KEY = "from-env";
    try {
      await createClient({ baseUrl: "http://x", fetch: recording(seen) }).GET("/v1/schemes");
      const none = createClient({ baseUrl: "http://x", apiKey: null, fetch: recording(seen) });
      await none.GET("/v1/schemes");
    } finally {
      if (saved === undefined) delete process.env.WEIGHTINIT_API_KEY;
      else process.env.WEIGHTINIT_API_KEY = saved;
    }
    assert.deepEqual(seen, ["Bearer from-env", null]);
  });
});

describe("live server", live, () => {
  for (const dtype of ["float32", "float64"] as const) {
    test(`JSON, npy and safetensors agree (${dtype}) with the server's sha256`, async () => {
      const request: WeightsRequest = { ...DENSE, dtype };
      const json = await weights(client, request);
      const fromJson = jsonTensors(json);
      const b64 = jsonTensors(await weights(client, request, { encoding: "base64" }));
      const npy = await weightsNpy(client, request, { tensor: "weight" });
      const st = await weightsSafetensors(client, request);

      assert.deepEqual(Object.keys(st.value).sort(), ["bias", "weight"]);
      assert.deepEqual(Object.keys(fromJson).sort(), ["bias", "weight"]);
      for (const t of json.tensors) {
        const a = fromJson[t.name]!;
        const s = st.value[t.name]!;
        assert.equal(a.dtype, dtype);
        assert.equal(s.dtype, dtype);
        assert.deepEqual(a.shape, t.shape);
        assert.deepEqual(s.shape, t.shape);
        assert.deepEqual(Array.from(a.data as Float32Array), Array.from(s.data as Float32Array));
        assert.equal(sha256(a), t.sha256, `${t.name}: JSON numbers vs its sha256`);
        assert.equal(sha256(b64[t.name]!), t.sha256, `${t.name}: JSON base64`);
        assert.equal(sha256(s), t.sha256, `${t.name}: safetensors`);
        assert.equal(st.sha256[t.name], t.sha256, `${t.name}: X-Weightinit-Sha256`);
      }
      assert.equal(npy.value.dtype, dtype);
      assert.deepEqual(npy.value.shape, [5, 7]);
      assert.equal(sha256(npy.value), json.tensors.find((t) => t.name === "weight")!.sha256);
      assert.equal(npy.sha256.weight, sha256(npy.value));
      const bias = await weightsNpy(client, request, { tensor: "bias" });
      assert.equal(sha256(bias.value), st.sha256.bias);
    });
  }

  test("a scheme object with parameters is typed per scheme and served", async () => {
    // The schema states each scheme's parameters: a wrong one does not compile.
    const scheme: WeightsRequest["scheme"] = { name: "he_normal", mode: "fan_out", a: 0.2 };
    // @ts-expect-error -- "sideways" is not one of he_normal's modes
    const wrongChoice: WeightsRequest["scheme"] = { name: "he_normal", mode: "sideways" };
    // @ts-expect-error -- "gain" is not a parameter of he_normal
    const unknownParameter: WeightsRequest["scheme"] = { name: "he_normal", gain: 2 };
    assert.ok(wrongChoice && unknownParameter);
    const json = await weights(client, { ...DENSE, scheme });
    const npy = await weightsNpy(client, { ...DENSE, scheme }, { tensor: "weight" });
    const weight = json.tensors.find((t) => t.name === "weight")!;
    assert.equal(sha256(npy.value), weight.sha256);
    const plain = await weights(client, DENSE);
    assert.notEqual(plain.tensors.find((t) => t.name === "weight")!.sha256, weight.sha256);
  });

  test("float16 and bfloat16 come back as Uint16Array with the dtype named", async () => {
    const f16 = await weightsNpy(client, { ...DENSE, dtype: "float16" }, { tensor: "weight" });
    assert.equal(f16.value.dtype, "float16");
    assert.ok(f16.value.data instanceof Uint16Array);
    assert.equal(sha256(f16.value), f16.sha256.weight);
    const bf16 = await weightsSafetensors(client, { ...DENSE, dtype: "bfloat16" });
    assert.equal(bf16.value.weight!.dtype, "bfloat16");
    assert.ok(bf16.value.weight!.data instanceof Uint16Array);
    assert.equal(sha256(bf16.value.weight!), bf16.sha256.weight);
  });

  test("models.safetensors names layers as asked", async () => {
    const result = await modelSafetensors(client, {
      seed: 8,
      layers: [
        { name: "enc", layer: { kind: "dense", in_features: 4, out_features: 3 } },
        { name: "head", layer: { kind: "dense", in_features: 3, out_features: 2 } },
      ],
    });
    assert.deepEqual(Object.keys(result.value).sort(), [
      "enc.bias",
      "enc.weight",
      "head.bias",
      "head.weight",
    ]);
    for (const [name, t] of Object.entries(result.value)) {
      assert.equal(sha256(t), result.sha256[name], name);
    }
  });

  test("models.safetensors takes a shape map and keeps its names and shapes", async () => {
    const tensors = { "enc.weight": [3, 4], "enc.bias": [3], "norm.weight": [3], "norm.bias": [3] };
    const result = await modelSafetensors(client, { seed: 8, tensors });
    assert.deepEqual(
      Object.fromEntries(Object.entries(result.value).map(([name, t]) => [name, t.shape])),
      tensors,
    );
    assert.deepEqual(Array.from(result.value["norm.weight"]!.data as Float32Array), [1, 1, 1]);
  });

  test("a bad request gives a typed WeightinitError with field errors", async () => {
    const bad = {
      layer: { kind: "dense", in_features: 0, out_features: 3 },
      scheme: "he_unifrom",
      seed: 1,
    } as unknown as WeightsRequest;
    for (const call of [() => weights(client, bad), () => weightsNpy(client, bad)]) {
      await assert.rejects(call, (err: unknown) => {
        assert.ok(err instanceof WeightinitError);
        assert.equal(err.status, 422);
        assert.equal(typeof err.title, "string");
        assert.ok(err.detail.includes("he_uniform"), err.detail);
        const fields = err.errors.map((e) => e.field);
        assert.ok(fields.includes("scheme"), fields.join());
        assert.ok(fields.includes("layer.in_features"), fields.join());
        assert.ok(err.errors.every((e) => e.message.length > 0));
        assert.ok(err.requestId && err.requestId.length > 0);
        return true;
      });
    }
  });

  test("seeds above 2**53 are sent as strings and work", async () => {
    const big = 2n ** 64n - 1n;
    const asBigint = await weightsSafetensors(client, { ...DENSE, seed: big });
    const asString = await weightsSafetensors(client, { ...DENSE, seed: big.toString() });
    assert.deepEqual(asBigint.sha256, asString.sha256);
    assert.equal(sha256(asBigint.value.weight!), asBigint.sha256.weight);
    // 2**53 + 1 is not a double: it must not collapse onto 2**53.
    const one = { tensor: "weight" };
    const a = await weightsNpy(client, { ...DENSE, seed: 2n ** 53n + 1n }, one);
    const b = await weightsNpy(client, { ...DENSE, seed: 2n ** 53n }, one);
    assert.notEqual(a.sha256.weight, b.sha256.weight);
    const json = await weights(client, { ...DENSE, seed: "9007199254740993" });
    assert.equal(json.tensors[0]!.sha256, a.sha256.weight);
  });
});

describe("digests", () => {
  test("a layer's safetensors verify against digestWeights", live, async () => {
    const st = await weightsSafetensors(client, DENSE);
    const digests = await digestWeights(client, DENSE, { blocks: true });
    await verifyTensors(st.value, digests);
    assert.equal(digests.tensors.length, Object.keys(st.value).length);
    assert.ok(digests.tensors.every((t) => (t.blocks ?? []).length === 1));
  });

  test("a shard's digest is the sha256 of the shard", live, async () => {
    const shard: WeightsRequest = { ...DENSE, shard: { dim: 1, index: 1, count: 2 } };
    const npy = await weightsNpy(client, shard, { tensor: "weight" });
    assert.deepEqual(npy.value.shape, [5, 3]);
    await verifyTensors({ weight: npy.value }, await digestWeights(client, shard));
  });

  test("verifyTensors throws on a mismatch", live, async () => {
    const st = await weightsSafetensors(client, DENSE);
    await assert.rejects(
      verifyTensors(st.value, { weight: "0".repeat(64) }),
      (e: unknown) => e instanceof WeightinitError && e.title === "digest mismatch",
    );
  });
});

// A safetensors file from a header object and raw data (for the offline tests).
function safetensorsFile(header: Record<string, unknown>, data: Uint8Array): ArrayBuffer {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const buf = new Uint8Array(8 + h.length + data.length);
  new DataView(buf.buffer).setBigUint64(0, BigInt(h.length), true);
  buf.set(h, 8);
  buf.set(data, 8 + h.length);
  return buf.buffer;
}

const AUDITED: ModelRequest = {
  seed: 2,
  dtype: "bfloat16",
  scheme: "glorot_uniform",
  layers: [
    { name: "fc", layer: { kind: "dense", in_features: 300, out_features: 200 } },
    { name: "ln", layer: { kind: "layer_norm", normalized_shape: 200 } },
  ],
};

describe("audit, offline", () => {
  test("tensorStats: float64 mean, population std, min, max", () => {
    const t: Tensor = { dtype: "float32", shape: [2, 2], data: Float32Array.from([1, 2, 3, 6]) };
    assert.deepEqual(tensorStats(t), {
      shape: [2, 2],
      dtype: "float32",
      numel: 4,
      mean: 3,
      std: Math.sqrt(3.5),
      min: 1,
      max: 6,
    });
    const empty = tensorStats({ dtype: "float64", shape: [0, 3], data: new Float64Array(0) });
    assert.deepEqual(empty, { shape: [0, 3], dtype: "float64", numel: 0 });
  });

  test("tensorStats decodes float16 and bfloat16 bits", () => {
    // float16 1, -2, 2**-24 (the smallest subnormal); bfloat16 1, -2.5
    const halfBits = Uint16Array.from([0x3c00, 0xc000, 0x0001]);
    const half = tensorStats({ dtype: "float16", shape: [3], data: halfBits });
    assert.equal(half.min, -2);
    assert.equal(half.max, 1);
    assert.equal(half.mean, (1 - 2 + 2 ** -24) / 3);
    const bfBits = Uint16Array.from([0x3f80, 0xc020]);
    const bf = tensorStats({ dtype: "bfloat16", shape: [2], data: bfBits });
    assert.deepEqual([bf.min, bf.max, bf.mean], [-2.5, 1, -0.75]);
  });

  test("auditBody tells a manifest from a request and sends big seeds as strings", () => {
    const w = { shape: [1], dtype: "float32", numel: 1, mean: 0, std: 0, min: 0, max: 0 };
    const stats = { w };
    const manifest = { format: "weightinit.manifest/1" as const, tensors: [] };
    assert.deepEqual(Object.keys(auditBody(manifest, stats)), ["manifest", "tensors"]);
    const body = auditBody({ ...AUDITED, seed: 2n ** 64n - 1n }, stats, 8);
    assert.deepEqual(Object.keys(body), ["request", "tensors", "z"]);
  });

  test("safetensorsManifest reads __metadata__ and is null without one", () => {
    const manifest = { format: "weightinit.manifest/1", seed: 1, tensors: [] };
    const metadata = { __metadata__: { [MANIFEST_KEY]: JSON.stringify(manifest) } };
    const file = safetensorsFile(metadata, new Uint8Array());
    assert.deepEqual(safetensorsManifest(file), manifest);
    assert.equal(safetensorsManifest(safetensorsFile({}, new Uint8Array())), null);
  });

  test("auditSafetensors without a manifest or a request asks for the request", async () => {
    const header = { w: { dtype: "F32", shape: [1], data_offsets: [0, 4] } };
    const file = safetensorsFile(header, new Uint8Array(4));
    await assert.rejects(auditSafetensors(client, file), /give the request/);
  });
});

describe("audit, live", live, () => {
  test("a file downloaded with its manifest passes; a planted deviation is named", async () => {
    const plain = await modelSafetensors(client, AUDITED);
    assert.equal(safetensorsManifest(plain.bytes), null); // opt-in
    const file = await modelSafetensors(client, AUDITED, { manifest: true });
    const report = await auditSafetensors(client, file.bytes);
    assert.ok(report.summary.passed, JSON.stringify(report.summary));
    assert.deepEqual(report.tensors.map((t) => t.verdict), ["ok", "ok", "ok", "ok"]);
    const again = await auditSafetensors(client, file.bytes, { request: AUDITED });
    assert.deepEqual(again, report);

    // fc.weight twice as wide as glorot_uniform: float32 values of the bfloat16 ones, doubled
    const fc = file.value["fc.weight"]!;
    const doubled = Float32Array.from(
      fc.data as Uint16Array,
      (bits) => 2 * new Float32Array(Uint32Array.of(bits << 16).buffer)[0]!,
    );
    const planted = {
      ...file.value,
      "fc.weight": { dtype: "float32", shape: fc.shape, data: doubled },
    };
    for (const expected of [AUDITED, await manifestModel(client, AUDITED)]) {
      const found = await audit(client, expected, planted as Record<string, Tensor>);
      assert.equal(found.summary.passed, false);
      const bad = found.tensors.filter((t) => t.verdict !== "ok").map((t) => [t.name, t.verdict]);
      assert.deepEqual(bad, [["fc.weight", "deviates"]]);
    }
  });

  test("a bad audit body is a WeightinitError", async () => {
    const tensors = { "fc.weight": { dtype: "float32", shape: [2, 2], data: new Float32Array(4) } };
    await assert.rejects(
      audit(client, AUDITED, tensors as Record<string, Tensor>, { z: 0 }),
      (e: unknown) => e instanceof WeightinitError && e.status === 422,
    );
  });
});

