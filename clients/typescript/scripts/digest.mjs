#!/usr/bin/env node
// Print the sha256 (computed here, over the parsed little-endian bytes) of every tensor the
// TypeScript SDK receives for one request, per format, as JSON. Used by the Python test suite.
//   WEIGHTINIT_URL=http://127.0.0.1:8000 node scripts/digest.mjs '{"layer": {...}, "seed": 1}'
import { createHash } from "node:crypto";

import {
  createClient,
  jsonTensors,
  tensorBytes,
  weights,
  weightsNpy,
  weightsSafetensors,
} from "../dist/src/index.js";

const request = JSON.parse(process.argv[2] ?? "{}");
const client = createClient(process.env.WEIGHTINIT_URL ?? "http://127.0.0.1:8000");
const digest = (tensors) =>
  Object.fromEntries(
    Object.entries(tensors).map(([name, t]) => [
      name,
      createHash("sha256").update(tensorBytes(t)).digest("hex"),
    ]),
  );

const st = await weightsSafetensors(client, request);
const out = {
  safetensors: digest(st.value),
  safetensors_header: st.sha256,
  json_base64: digest(jsonTensors(await weights(client, request, { encoding: "base64" }))),
};
if (request.dtype !== "bfloat16") {
  // .npy has no bfloat16
  out.npy = digest({ weight: (await weightsNpy(client, request, { tensor: "weight" })).value });
}
if (request.dtype === undefined || ["float32", "float64"].includes(request.dtype)) {
  out.json = digest(jsonTensors(await weights(client, request)));
}
process.stdout.write(JSON.stringify(out) + "\n");
