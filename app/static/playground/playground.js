// weightinit playground: builds a POST /v1/diagnostics body from the form, asks the service
// for the JSON result and the SVG plot, and shows the plot, the weight histograms and the
// per-layer table. Plain JavaScript, no dependencies, no build step; the page works offline
// against the service that serves it (every URL is relative to the page).
"use strict";

(() => {
  const ENDPOINT = "v1/diagnostics"; // relative: /playground -> /v1/diagnostics
  const ACTIVATIONS = [
    "relu", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "silu", "tanh", "sigmoid",
    "softplus", "hard_tanh", "relu6", "sin", "linear",
  ];
  // [name, label, checked by default]; "random" takes its std from the random-scale field.
  const SCHEMES = [
    ["zeros", "zeros", true],
    ["random", "random (normal, std below)", true],
    ["glorot_uniform", "glorot_uniform (Xavier)", true],
    ["glorot_normal", "glorot_normal", false],
    ["he_normal", "he_normal (Kaiming)", true],
    ["he_uniform", "he_uniform", false],
    ["lecun_normal", "lecun_normal", false],
    ["orthogonal", "orthogonal", false],
  ];
  const PRESETS = {
    mlp: {
      depth: 20, width: 256, batch: 128, activation: "relu",
      depthLabel: "Depth (dense layers)", widthLabel: "Width (features)",
      hint: "Dense layers width → width, the activation after each (the mlp shorthand).",
    },
    cnn: {
      depth: 6, width: 16, batch: 16, activation: "relu",
      depthLabel: "Depth (conv layers)", widthLabel: "Channels",
      hint: "conv2d 3×3, padding 1, on 3×32×32 inputs: 3 → channels, then channels → channels.",
    },
    transformer: {
      depth: 2, width: 64, batch: 16, activation: "gelu",
      depthLabel: "Depth (blocks)", widthLabel: "Embedding dim",
      hint: "Token embedding (1000 × dim), then per block: layer_norm, 4-head self-attention, " +
        "layer_norm, dense dim → 4·dim (the activation), dense 4·dim → dim. No residuals: " +
        "a chain.",
    },
    gpt2: {
      depth: 4, width: 64, batch: 8, activation: "gelu_tanh",
      depthLabel: "Depth (blocks: n_layer)", widthLabel: "n_embd (4 heads)",
      hint: "GPT-2 by config (architecture gpt2): transformers' own forward pass with its " +
        "residual connections (learned positions, Pre-LN, causal attention, gelu_new), " +
        "vocabulary 1000, 16 positions; the activation is GPT-2's own. The plot adds the " +
        "residual stream's variance per block.",
    },
  };
  const HEADS = 4;
  const VOCABULARY = 1000;

  const $ = (id) => document.getElementById(id);
  let inFlight = null; // the AbortController of the running request
  let lastResult = null;
  let plotUrl = null;

  // ---- the request -----------------------------------------------------------------------

  function integer(id, fallback) {
    const value = Number.parseInt($(id).value, 10);
    return Number.isFinite(value) ? value : fallback;
  }

  function chosenSchemes() {
    const scale = Number.parseFloat($("random-scale").value);
    return Array.from(document.querySelectorAll("input[name=scheme]:checked"), (box) =>
      box.value === "random" && Number.isFinite(scale) ? { name: "random", scale } : box.value);
  }

  function cnnLayers(depth, width, activation) {
    const layers = [];
    for (let i = 1; i <= depth; i += 1) {
      layers.push({
        name: `conv${i}`,
        layer: {
          kind: "conv2d", in_channels: i === 1 ? 3 : width, out_channels: width, kernel_size: 3,
        },
        padding: 1,
        activation,
      });
    }
    return layers;
  }

  function transformerLayers(depth, width, activation) {
    const layers = [{
      name: "embed",
      layer: { kind: "embedding", num_embeddings: VOCABULARY, embedding_dim: width },
      activation: "linear",
    }];
    for (let i = 1; i <= depth; i += 1) {
      layers.push(
        { name: `block${i}.ln1`, layer: { kind: "layer_norm", normalized_shape: width },
          activation: "linear" },
        { name: `block${i}.attn`,
          layer: { kind: "multihead_attention", embed_dim: width, num_heads: HEADS },
          activation: "linear" },
        { name: `block${i}.ln2`, layer: { kind: "layer_norm", normalized_shape: width },
          activation: "linear" },
        { name: `block${i}.fc1`,
          layer: { kind: "dense", in_features: width, out_features: 4 * width }, activation },
        { name: `block${i}.fc2`,
          layer: { kind: "dense", in_features: 4 * width, out_features: width },
          activation: "linear" },
      );
    }
    return layers;
  }

  function coordinateWidths() {
    return $("widths").value.split(",").map((w) => Number.parseInt(w, 10))
      .filter((w) => Number.isFinite(w) && w > 0);
  }

  function requestBody() {
    const preset = $("preset").value;
    const depth = Math.max(1, integer("depth", 1));
    const width = Math.max(1, integer("width", 1));
    const activation = $("activation").value;
    const body = {};
    if (preset === "mlp") {
      body.mlp = { sizes: new Array(depth + 1).fill(width), activation };
    } else if (preset === "cnn") {
      body.layers = cnnLayers(depth, width, activation);
    } else if (preset === "gpt2") {
      body.architecture = "gpt2";
      body.config = {
        n_layer: depth, n_embd: width, n_head: HEADS, vocab_size: VOCABULARY, n_positions: 64,
      };
      body.input_shape = [16];
    } else {
      body.layers = transformerLayers(depth, width, activation);
    }
    const schemes = chosenSchemes();
    const widths = preset === "mlp" ? coordinateWidths() : [];
    if (schemes.length === 1 || widths.length) {
      body.scheme = schemes[0]; // a coordinate check runs one scheme: the first chosen
    } else {
      body.compare = schemes;
    }
    if (widths.length) {
      body.widths = widths;
      body.steps = Math.max(2, integer("steps", 3));
      body.optimizer = $("optimizer").value;
      body.learning_rate = Number.parseFloat($("learning-rate").value);
    }
    body.seed = Math.max(0, integer("seed", 0));
    body.batch = Math.max(1, integer("batch", 1));
    body.dtype = $("dtype").value;
    return body;
  }

  function headers(accept) {
    const result = { "Content-Type": "application/json", Accept: accept };
    const key = $("api-key").value.trim();
    if (key) {
      result["X-API-Key"] = key;
    }
    return result;
  }

  function endpointUrl(format) {
    return new URL(`${ENDPOINT}?format=${format}`, document.baseURI).href;
  }

  // ---- curl --------------------------------------------------------------------------------

  function shellQuote(text) {
    return `'${text.replace(/'/g, "'\\''")}'`;
  }

  function curlCommand() {
    const lines = [`curl --fail-with-body ${shellQuote(endpointUrl("svg"))}`];
    if ($("api-key").value.trim()) {
      lines.push('-H "X-API-Key: $WEIGHTINIT_API_KEY"');
    }
    lines.push(`--json ${shellQuote(JSON.stringify(requestBody()))}`);
    lines.push("-o diagnostics.svg   # ?format=json for the numbers, ?format=png for a PNG");
    return lines.join(" \\\n  ");
  }

  function updateCurl() {
    $("curl").value = curlCommand();
    $("copy-status").textContent = "";
  }

  async function copyCurl() {
    const box = $("curl");
    try {
      await navigator.clipboard.writeText(box.value);
      $("copy-status").textContent = "Copied.";
    } catch (_error) {
      box.focus();
      box.select();
      $("copy-status").textContent = "Selected: press Ctrl+C (or ⌘C) to copy.";
    }
  }

  // ---- errors ------------------------------------------------------------------------------

  class ProblemError extends Error {
    constructor(status, problem, text) {
      super(problem && problem.detail ? problem.detail : text || `HTTP ${status}`);
      this.status = status;
      this.problem = problem;
    }
  }

  async function fetchOrProblem(format, body, signal) {
    const accept = { json: "application/json", svg: "image/svg+xml" }[format];
    const response = await fetch(endpointUrl(format), {
      method: "POST", headers: headers(accept), body: JSON.stringify(body), signal,
    });
    if (!response.ok) {
      const text = await response.text();
      let problem = null;
      try {
        problem = JSON.parse(text);
      } catch (_error) {
        problem = null;
      }
      throw new ProblemError(response.status, problem, text.slice(0, 500));
    }
    return format === "json" ? response.json() : response.text();
  }

  function showError(error) {
    const box = $("error");
    box.replaceChildren();
    const heading = document.createElement("h2");
    const detail = document.createElement("p");
    if (error instanceof ProblemError) {
      const problem = error.problem || {};
      heading.textContent = `${error.status} ${problem.title || "Error"}`;
      detail.textContent = problem.detail || error.message;
      box.append(heading, detail);
      if (Array.isArray(problem.errors) && problem.errors.length) {
        const list = document.createElement("ul");
        for (const item of problem.errors) {
          const entry = document.createElement("li");
          const field = document.createElement("code");
          field.textContent = item.field || "(body)";
          entry.append(field, `: ${item.message || JSON.stringify(item)}`);
          list.append(entry);
        }
        box.append(list);
      }
      if (error.status === 401) {
        const hint = document.createElement("p");
        hint.textContent = "This service needs an API key: fill in the API key field.";
        box.append(hint);
      }
      if (problem.request_id) {
        const id = document.createElement("p");
        id.className = "hint";
        id.textContent = `request id ${problem.request_id}`;
        box.append(id);
      }
    } else {
      heading.textContent = "The service could not be reached";
      detail.textContent = String(error && error.message ? error.message : error);
      box.append(heading, detail);
    }
    box.hidden = false;
  }

  // ---- numbers -----------------------------------------------------------------------------

  function fmt(value) {
    if (value === null || value === undefined) {
      return "–";
    }
    if (typeof value !== "number") {
      return String(value);
    }
    if (value === 0) {
      return "0";
    }
    const magnitude = Math.abs(value);
    return magnitude >= 1e4 || magnitude < 1e-3 ? value.toExponential(2) : value.toPrecision(3);
  }

  function percent(value) {
    return value === null || value === undefined ? "–" : `${(100 * value).toFixed(1)}%`;
  }

  // ---- the plot ----------------------------------------------------------------------------

  const XML_ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

  // The series groups the service named (<g id="activation-std:he_normal">...). Read from the
  // text: a DOMParser document would apply this page's CSP to the SVG's inline styles.
  function seriesIds(svgText) {
    const pattern = /<g id="((?:activation-std|gradient-std|residual-variance|coord-l1):[^"]*)"/g;
    return Array.from(svgText.matchAll(pattern), (match) =>
      match[1].replace(/&(amp|lt|gt|quot|apos);/g, (_all, name) => XML_ENTITIES[name]));
  }

  function showPlot(svgText) {
    if (plotUrl) {
      URL.revokeObjectURL(plotUrl);
    }
    plotUrl = URL.createObjectURL(new Blob([svgText], { type: "image/svg+xml" }));
    const plot = $("plot");
    plot.src = plotUrl;
    plot.dataset.series = seriesIds(svgText).join(" ");
    $("plot-download").href = plotUrl;
  }

  // ---- histograms (inline SVG, drawn here from weight_histogram) -------------------------

  const SVG_NS = "http://www.w3.org/2000/svg";
  const HIST_W = 180;
  const HIST_H = 90;
  const HIST_AXIS = 14;

  function svgElement(name, attributes) {
    const element = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attributes)) {
      element.setAttribute(key, String(value));
    }
    return element;
  }

  function histogram(layer) {
    const figure = document.createElement("figure");
    figure.className = "histogram";
    figure.dataset.layer = layer.name;
    const caption = document.createElement("figcaption");
    caption.textContent = `${layer.depth}. ${layer.name}`;
    const data = layer.weight_histogram;
    if (!data || !Array.isArray(data.counts) || !data.counts.length) {
      const none = document.createElement("p");
      none.className = "hint";
      none.textContent = "no weight";
      figure.append(caption, none);
      return figure;
    }
    const { edges, counts } = data;
    const svg = svgElement("svg", {
      viewBox: `0 0 ${HIST_W} ${HIST_H + HIST_AXIS}`, width: HIST_W, height: HIST_H + HIST_AXIS,
      role: "img",
    });
    const title = svgElement("title", {});
    title.textContent = `${layer.name}: weights from ${fmt(edges[0])} to ` +
      `${fmt(edges[edges.length - 1])}, std ${fmt(layer.weight_std)}`;
    svg.append(title);
    const peak = Math.max(1, ...counts);
    const bar = HIST_W / counts.length;
    counts.forEach((count, i) => {
      const height = (count / peak) * (HIST_H - 2);
      svg.append(svgElement("rect", {
        x: (i * bar).toFixed(2), y: (HIST_H - height).toFixed(2),
        width: Math.max(bar - 0.5, 0.5).toFixed(2), height: height.toFixed(2),
        class: "bar",
      }));
    });
    svg.append(svgElement("line", { x1: 0, y1: HIST_H, x2: HIST_W, y2: HIST_H, class: "axis" }));
    const low = svgElement("text", { x: 0, y: HIST_H + HIST_AXIS - 3, class: "tick" });
    low.textContent = fmt(edges[0]);
    const high = svgElement("text", {
      x: HIST_W, y: HIST_H + HIST_AXIS - 3, class: "tick", "text-anchor": "end",
    });
    high.textContent = fmt(edges[edges.length - 1]);
    svg.append(low, high);
    figure.append(caption, svg);
    return figure;
  }

  function showHistograms() {
    const box = $("histograms");
    box.replaceChildren();
    if (!lastResult) {
      return;
    }
    const run = lastResult.runs.find((r) => r.label === $("hist-run").value) || lastResult.runs[0];
    if (!run) {
      return;
    }
    for (const layer of run.layers) {
      box.append(histogram(layer));
    }
  }

  function fillRunChoice(runs) {
    const select = $("hist-run");
    const previous = select.value;
    select.replaceChildren(...runs.map((run) => new Option(run.label, run.label)));
    if (runs.some((run) => run.label === previous)) {
      select.value = previous;
    }
  }

  // ---- the table ---------------------------------------------------------------------------

  function outside(measured, predicted, tolerance) {
    if (!(measured > 0) || !(predicted > 0) || !(tolerance > 0)) {
      return false;
    }
    return Math.abs(Math.log(measured / predicted)) > tolerance;
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) {
      td.className = className;
    }
    return td;
  }

  function withPrediction(measured, predicted) {
    return predicted === null || predicted === undefined
      ? fmt(measured) : `${fmt(measured)} (${fmt(predicted)})`;
  }

  function layerRow(run, layer) {
    const p = layer.predicted || {};
    const tolerance = p.tolerance;
    // the tolerance bounds |log(measured / predicted)| of the activations' squared mean
    const off = outside(layer.activation_squared_mean, p.activation_squared_mean, tolerance);
    const flags = [];
    if (layer.symmetric) {
      flags.push("symmetric");
    }
    if (layer.overflow) {
      flags.push("overflow");
    }
    const row = document.createElement("tr");
    row.dataset.run = run.label;
    row.append(
      cell(run.label),
      cell(String(layer.depth), "num"),
      cell(layer.name),
      cell(layer.kind),
      cell(layer.activation),
      cell(layer.fan_in === null || layer.fan_in === undefined ? "–" : String(layer.fan_in), "num"),
      cell(withPrediction(layer.preactivation_std, p.preactivation_std), "num"),
      cell(fmt(layer.activation_mean), "num"),
      cell(withPrediction(layer.activation_std, p.activation_std), off ? "num off" : "num"),
      cell(withPrediction(layer.gradient_std, p.gradient_std), "num"),
      cell(percent(layer.dead_fraction), "num"),
      cell(percent(layer.saturated_fraction), "num"),
      cell(withPrediction(layer.weight_std, layer.weight_std_theory), "num"),
      cell(flags.join(", "), flags.length ? "flag" : ""),
    );
    return row;
  }

  function showTable(result) {
    const body = $("stats").tBodies[0];
    body.replaceChildren();
    for (const run of result.runs) {
      for (const layer of run.layers) {
        body.append(layerRow(run, layer));
      }
    }
  }

  // ---- running -----------------------------------------------------------------------------

  // Results shown under settings they no longer match are dimmed until the next run.
  function markStale() {
    const results = $("results");
    if (!results.hidden) {
      results.classList.add("stale");
    }
  }

  async function run(event) {
    if (event) {
      event.preventDefault();
    }
    const form = $("controls");
    if (!form.reportValidity()) {
      return;
    }
    $("error").hidden = true;
    if (!chosenSchemes().length) {
      showError(new Error("Choose at least one scheme to compare."));
      $("error").querySelector("h2").textContent = "Nothing to run";
      return;
    }
    if (inFlight) {
      inFlight.abort();
    }
    const controller = new AbortController();
    inFlight = controller;
    const body = requestBody();
    const started = performance.now();
    $("status").textContent = "Running…";
    $("run").disabled = true;
    document.body.dataset.state = "running";
    try {
      const [result, svg] = await Promise.all([
        fetchOrProblem("json", body, controller.signal),
        fetchOrProblem("svg", body, controller.signal),
      ]);
      lastResult = result;
      showPlot(svg);
      fillRunChoice(result.runs);
      showHistograms();
      showTable(result);
      $("results").classList.remove("stale");
      $("results").hidden = false;
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const check = result.coordinate_check ? " and a coordinate check" : "";
      $("status").textContent = `Done in ${seconds} s: ${result.runs.length} run(s)${check}.`;
      document.body.dataset.state = "done";
    } catch (error) {
      if (error && error.name === "AbortError") {
        return;
      }
      showError(error);
      $("status").textContent = "Failed.";
      document.body.dataset.state = "failed";
    } finally {
      if (inFlight === controller) {
        inFlight = null;
        $("run").disabled = false;
      }
    }
  }

  // ---- form state (kept in the URL's fragment, so a link reproduces a run) ----------------

  const FIELDS = ["preset", "activation", "depth", "width", "seed", "batch", "dtype",
    "random-scale", "widths", "steps", "optimizer", "learning-rate"];

  function saveState() {
    const params = new URLSearchParams();
    for (const id of FIELDS) {
      params.set(id, $(id).value);
    }
    params.set("schemes", Array.from(
      document.querySelectorAll("input[name=scheme]:checked"), (box) => box.value).join(","));
    history.replaceState(null, "", `#${params}`);
  }

  function restoreState() {
    const params = new URLSearchParams(location.hash.slice(1));
    for (const id of FIELDS) {
      if (params.has(id)) {
        $(id).value = params.get(id);
      }
    }
    if (params.has("schemes")) {
      const chosen = new Set(params.get("schemes").split(","));
      for (const box of document.querySelectorAll("input[name=scheme]")) {
        box.checked = chosen.has(box.value);
      }
    }
  }

  function applyPreset() {
    const preset = PRESETS[$("preset").value];
    $("depth").value = preset.depth;
    $("width").value = preset.width;
    $("batch").value = preset.batch;
    $("activation").value = preset.activation;
    describePreset();
  }

  function describePreset() {
    const preset = PRESETS[$("preset").value];
    $("coordinate-check").disabled = $("preset").value !== "mlp";
    $("activation").disabled = $("preset").value === "gpt2"; // GPT-2's own gelu_new
    $("depth-label").textContent = preset.depthLabel;
    $("width-label").textContent = preset.widthLabel;
    $("preset-hint").textContent = preset.hint;
  }

  function build() {
    const activation = $("activation");
    for (const name of ACTIVATIONS) {
      activation.append(new Option(name, name, name === "relu", name === "relu"));
    }
    const list = $("scheme-list");
    for (const [name, label, checked] of SCHEMES) {
      const box = document.createElement("input");
      Object.assign(box, { type: "checkbox", name: "scheme", value: name, checked });
      box.id = `scheme-${name}`;
      const text = document.createElement("label");
      text.htmlFor = box.id;
      text.textContent = label;
      const item = document.createElement("div");
      item.className = "scheme";
      item.append(box, text);
      list.append(item);
    }
    restoreState();
    describePreset();
    updateCurl();
    $("preset").addEventListener("change", applyPreset);
    $("controls").addEventListener("submit", run);
    $("controls").addEventListener("input", () => {
      updateCurl();
      saveState();
      markStale();
    });
    $("controls").addEventListener("change", () => {
      updateCurl();
      saveState();
      markStale();
    });
    $("hist-run").addEventListener("change", showHistograms);
    $("copy-curl").addEventListener("click", copyCurl);
    document.body.dataset.state = "ready";
  }

  build();
})();
