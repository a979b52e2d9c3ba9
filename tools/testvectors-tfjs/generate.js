#!/usr/bin/env node
// Independent test-vector generator for resflow.
//
// Forward pass written directly in TensorFlow.js ops, gradients by TF.js autodiff
// (tf.valueAndGrads), AdamW written out in plain JS. Nothing here shares code with the Java
// project. See README.md in this folder for usage.
//
//   node generate.js list
//   node generate.js generate <preset> [outDir]     (default outDir: ../../testvectors/<preset>)
//   node generate.js all                            (every preset into ../../testvectors/)
//   node generate.js verify <folder> [--steps]      (recompute a folder from its own model and
//                                                    inputs/targets, compare with the stored results)
'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

// ---------------------------------------------------------------- presets

const ADAMW = { lr: 0.001, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0.1, steps: 5 };

function gpt2Config(o) {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    n_layer: o.n_layer,
    n_embd: o.n_embd,
    n_head: o.n_head,
    vocab_size: o.vocab_size,
    n_positions: o.n_positions,
    n_ctx: o.n_positions,
    n_inner: null,
    layer_norm_epsilon: 1e-5,
    activation_function: 'gelu_new',
    resid_pdrop: 0.0,
    embd_pdrop: 0.0,
    attn_pdrop: 0.0,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
  };
}

function llamaConfig(o) {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: o.hidden_size,
    intermediate_size: o.intermediate_size,
    num_attention_heads: o.num_attention_heads,
    num_key_value_heads: o.num_key_value_heads,
    head_dim: o.head_dim,
    num_hidden_layers: o.num_hidden_layers,
    vocab_size: o.vocab_size,
    max_position_embeddings: o.max_position_embeddings,
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    rope_scaling: null,
    tie_word_embeddings: o.tie_word_embeddings,
    hidden_act: 'silu',
    attention_bias: false,
    attention_dropout: 0.0,
    mlp_bias: false,
    pretraining_tp: 1,
    torch_dtype: 'float32',
  };
}

const PRESETS = {
  'gpt2-odd-noprefix': {
    config: gpt2Config({ n_layer: 3, n_embd: 48, n_head: 3, vocab_size: 259, n_positions: 24 }),
    prefix: '', batch: 3, seq_len: 11, seed: 101,
  },
  'llama-tied-headdim': {
    config: llamaConfig({
      hidden_size: 40, intermediate_size: 56, num_attention_heads: 3, num_key_value_heads: 1,
      head_dim: 8, num_hidden_layers: 2, vocab_size: 131, max_position_embeddings: 32,
      tie_word_embeddings: true,
    }),
    batch: 2, seq_len: 9, seed: 102,
  },
  'gpt2-deep-104': {
    config: gpt2Config({ n_layer: 104, n_embd: 12, n_head: 2, vocab_size: 64, n_positions: 16 }),
    prefix: 'transformer.', batch: 1, seq_len: 8, seed: 103,
  },
};

// ---------------------------------------------------------------- PRNG

// mulberry32: 32-bit state, uniform in [0, 1) with 2^-32 resolution.
function mulberry32(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Standard normals by Box-Muller (both values of each pair used, in order).
function makeRng(seed) {
  const uni = mulberry32(seed);
  let spare = null;
  return {
    uniform: uni,
    normal() {
      if (spare !== null) { const s = spare; spare = null; return s; }
      let u1 = uni();
      while (u1 <= 0) u1 = uni();
      const u2 = uni();
      const r = Math.sqrt(-2 * Math.log(u1));
      spare = r * Math.sin(2 * Math.PI * u2);
      return r * Math.cos(2 * Math.PI * u2);
    },
    int(n) { return Math.floor(uni() * n); },
  };
}

// ---------------------------------------------------------------- safetensors

const DTYPES = {
  F32: { bytes: 4, Arr: Float32Array },
  F64: { bytes: 8, Arr: Float64Array },
  I32: { bytes: 4, Arr: Int32Array },
  I64: { bytes: 8, Arr: BigInt64Array },
};

function readSafetensors(file) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const out = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const d = DTYPES[info.dtype];
    if (!d) throw new Error(`${file}: unsupported dtype ${info.dtype} for ${name}`);
    const [s, e] = info.data_offsets;
    const bytes = buf.subarray(8 + n + s, 8 + n + e);
    const copy = new Uint8Array(bytes.length); copy.set(bytes);   // aligned copy
    const arr = new d.Arr(copy.buffer, 0, (e - s) / d.bytes);
    out.set(name, { dtype: info.dtype, shape: info.shape, data: arr });
  }
  return out;
}

// entries: array of [name, {dtype, shape, data}] in file order. Little-endian host assumed (x86/ARM).
function writeSafetensors(file, entries, metadata) {
  const header = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  const blobs = [];
  for (const [name, t] of entries) {
    const d = DTYPES[t.dtype];
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== numel) throw new Error(`${name}: ${t.data.length} values for shape ${t.shape}`);
    const typed = t.data instanceof d.Arr ? t.data : d.Arr.from(t.data);
    const bytes = Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + bytes.length] };
    off += bytes.length;
    blobs.push(bytes);
  }
  let json = JSON.stringify(header);
  while ((Buffer.byteLength(json) % 8) !== 0) json += ' ';   // pad so data starts 8-aligned
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(json, 'utf8'), ...blobs]));
}

// ---------------------------------------------------------------- model description

function gpt2Dims(cfg) {
  const C = cfg.n_embd;
  return {
    L: cfg.n_layer, C, NH: cfg.n_head, V: cfg.vocab_size, P: cfg.n_positions,
    F: cfg.n_inner == null ? 4 * C : cfg.n_inner, eps: cfg.layer_norm_epsilon ?? 1e-5,
  };
}

function llamaDims(cfg) {
  const H = cfg.hidden_size, NH = cfg.num_attention_heads;
  return {
    L: cfg.num_hidden_layers, H, NH, NKV: cfg.num_key_value_heads ?? NH,
    HD: cfg.head_dim ?? H / NH, I: cfg.intermediate_size, V: cfg.vocab_size,
    eps: cfg.rms_norm_eps, theta: cfg.rope_theta ?? 10000.0, tied: !!cfg.tie_word_embeddings,
  };
}

// Parameter list [{name, shape, kind}] in file order; kind: 'w' (weights/embeddings), 'b' (bias),
// 'nw' (norm weight), 'nb' (norm bias).
function paramSpec(cfg, prefix) {
  const ps = [];
  if (cfg.model_type === 'gpt2') {
    const d = gpt2Dims(cfg), p = prefix;
    ps.push({ name: `${p}wte.weight`, shape: [d.V, d.C], kind: 'w' });
    ps.push({ name: `${p}wpe.weight`, shape: [d.P, d.C], kind: 'w' });
    for (let i = 0; i < d.L; i++) {
      const h = `${p}h.${i}.`;
      ps.push({ name: h + 'ln_1.weight', shape: [d.C], kind: 'nw' });
      ps.push({ name: h + 'ln_1.bias', shape: [d.C], kind: 'nb' });
      ps.push({ name: h + 'attn.c_attn.weight', shape: [d.C, 3 * d.C], kind: 'w' });
      ps.push({ name: h + 'attn.c_attn.bias', shape: [3 * d.C], kind: 'b' });
      ps.push({ name: h + 'attn.c_proj.weight', shape: [d.C, d.C], kind: 'w' });
      ps.push({ name: h + 'attn.c_proj.bias', shape: [d.C], kind: 'b' });
      ps.push({ name: h + 'ln_2.weight', shape: [d.C], kind: 'nw' });
      ps.push({ name: h + 'ln_2.bias', shape: [d.C], kind: 'nb' });
      ps.push({ name: h + 'mlp.c_fc.weight', shape: [d.C, d.F], kind: 'w' });
      ps.push({ name: h + 'mlp.c_fc.bias', shape: [d.F], kind: 'b' });
      ps.push({ name: h + 'mlp.c_proj.weight', shape: [d.F, d.C], kind: 'w' });
      ps.push({ name: h + 'mlp.c_proj.bias', shape: [d.C], kind: 'b' });
    }
    ps.push({ name: `${p}ln_f.weight`, shape: [d.C], kind: 'nw' });
    ps.push({ name: `${p}ln_f.bias`, shape: [d.C], kind: 'nb' });
  } else if (cfg.model_type === 'llama') {
    const d = llamaDims(cfg);
    ps.push({ name: 'model.embed_tokens.weight', shape: [d.V, d.H], kind: 'w' });
    for (let i = 0; i < d.L; i++) {
      const l = `model.layers.${i}.`;
      ps.push({ name: l + 'input_layernorm.weight', shape: [d.H], kind: 'nw' });
      ps.push({ name: l + 'self_attn.q_proj.weight', shape: [d.NH * d.HD, d.H], kind: 'w' });
      ps.push({ name: l + 'self_attn.k_proj.weight', shape: [d.NKV * d.HD, d.H], kind: 'w' });
      ps.push({ name: l + 'self_attn.v_proj.weight', shape: [d.NKV * d.HD, d.H], kind: 'w' });
      ps.push({ name: l + 'self_attn.o_proj.weight', shape: [d.H, d.NH * d.HD], kind: 'w' });
      ps.push({ name: l + 'post_attention_layernorm.weight', shape: [d.H], kind: 'nw' });
      ps.push({ name: l + 'mlp.gate_proj.weight', shape: [d.I, d.H], kind: 'w' });
      ps.push({ name: l + 'mlp.up_proj.weight', shape: [d.I, d.H], kind: 'w' });
      ps.push({ name: l + 'mlp.down_proj.weight', shape: [d.H, d.I], kind: 'w' });
    }
    ps.push({ name: 'model.norm.weight', shape: [d.H], kind: 'nw' });
    if (!d.tied) ps.push({ name: 'lm_head.weight', shape: [d.V, d.H], kind: 'w' });
  } else {
    throw new Error(`unsupported model_type ${cfg.model_type}`);
  }
  return ps;
}

// GPT-2 files may carry the 'transformer.' prefix or not; find which from the names present.
function detectPrefix(names) {
  return names.some((n) => n.startsWith('transformer.')) ? 'transformer.' : '';
}

// ---------------------------------------------------------------- forward passes (TF.js)

function causalMask(T) {
  // additive mask [T,T]: 0 on/below the diagonal, -1e9 above (exp underflows to exactly 0)
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
  return tf.tensor2d(m, [T, T]);
}

function attention(q, k, v, scale, mask) {
  // q,k,v [B,nh,T,hd] -> [B,nh,T,hd]
  const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), scale), mask);
  return tf.matMul(tf.softmax(scores, -1), v);
}

function layerNorm(x, w, b, eps) {
  const { mean, variance } = tf.moments(x, -1, true);   // biased variance
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), w), b);
}

function geluTanh(x) {
  const c = Math.sqrt(2 / Math.PI);
  const inner = tf.mul(c, tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

// returns logits [B*T, V]
function gpt2Forward(cfg, prefix, P, inputs, B, T) {
  const d = gpt2Dims(cfg);
  const hd = d.C / d.NH;
  const mask = causalMask(T);
  const flat = tf.reshape(inputs, [B * T]);
  const tok = tf.reshape(tf.gather(P[`${prefix}wte.weight`], flat), [B, T, d.C]);
  const pos = tf.slice(P[`${prefix}wpe.weight`], [0, 0], [T, d.C]);
  let x = tf.reshape(tf.add(tok, pos), [B * T, d.C]);
  const heads = (t) => tf.transpose(tf.reshape(t, [B, T, d.NH, hd]), [0, 2, 1, 3]);
  for (let i = 0; i < d.L; i++) {
    const h = `${prefix}h.${i}.`;
    const a = layerNorm(x, P[h + 'ln_1.weight'], P[h + 'ln_1.bias'], d.eps);
    const qkv = tf.add(tf.matMul(a, P[h + 'attn.c_attn.weight']), P[h + 'attn.c_attn.bias']);
    const [q, k, v] = tf.split(qkv, 3, 1);                 // q | k | v column blocks
    const y = attention(heads(q), heads(k), heads(v), 1 / Math.sqrt(hd), mask);
    const yc = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B * T, d.C]);
    x = tf.add(x, tf.add(tf.matMul(yc, P[h + 'attn.c_proj.weight']), P[h + 'attn.c_proj.bias']));
    const m = layerNorm(x, P[h + 'ln_2.weight'], P[h + 'ln_2.bias'], d.eps);
    const f = geluTanh(tf.add(tf.matMul(m, P[h + 'mlp.c_fc.weight']), P[h + 'mlp.c_fc.bias']));
    x = tf.add(x, tf.add(tf.matMul(f, P[h + 'mlp.c_proj.weight']), P[h + 'mlp.c_proj.bias']));
  }
  const xf = layerNorm(x, P[`${prefix}ln_f.weight`], P[`${prefix}ln_f.bias`], d.eps);
  return tf.matMul(xf, P[`${prefix}wte.weight`], false, true);   // tied head
}

function rmsNorm(x, w, eps) {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
}

function ropeTables(T, HD, theta) {
  // float64 angles, rounded to float32 once
  const half = HD / 2;
  const cos = new Float32Array(T * HD), sin = new Float32Array(T * HD);
  for (let p = 0; p < T; p++) {
    for (let j = 0; j < half; j++) {
      const invFreq = Math.pow(theta, -(2 * j) / HD);
      const ang = p * invFreq;
      cos[p * HD + j] = cos[p * HD + j + half] = Math.cos(ang);
      sin[p * HD + j] = sin[p * HD + j + half] = Math.sin(ang);
    }
  }
  return { cos: tf.tensor2d(cos, [T, HD]), sin: tf.tensor2d(sin, [T, HD]) };
}

function rotateHalf(x, HD) {
  const half = HD / 2;
  const r = x.rank;
  const begin1 = new Array(r).fill(0), begin2 = new Array(r).fill(0);
  const size = x.shape.slice(); size[r - 1] = half;
  begin2[r - 1] = half;
  const x1 = tf.slice(x, begin1, size), x2 = tf.slice(x, begin2, size);
  return tf.concat([tf.neg(x2), x1], r - 1);
}

function llamaForward(cfg, P, inputs, B, T) {
  const d = llamaDims(cfg);
  const mask = causalMask(T);
  const { cos, sin } = ropeTables(T, d.HD, d.theta);
  const rope = (t) => tf.add(tf.mul(t, cos), tf.mul(rotateHalf(t, d.HD), sin));
  const group = d.NH / d.NKV;
  const kvIndex = tf.tensor1d(Array.from({ length: d.NH }, (_, h) => Math.floor(h / group)), 'int32');
  const lin = (t, W) => tf.matMul(t, W, false, true);      // nn.Linear: x @ W^T
  const heads = (t, n) => tf.transpose(tf.reshape(t, [B, T, n, d.HD]), [0, 2, 1, 3]);
  const flat = tf.reshape(inputs, [B * T]);
  let x = tf.gather(P['model.embed_tokens.weight'], flat);   // [B*T, H]
  for (let i = 0; i < d.L; i++) {
    const l = `model.layers.${i}.`;
    const a = rmsNorm(x, P[l + 'input_layernorm.weight'], d.eps);
    const q = rope(heads(lin(a, P[l + 'self_attn.q_proj.weight']), d.NH));
    const k = rope(heads(lin(a, P[l + 'self_attn.k_proj.weight']), d.NKV));
    const v = heads(lin(a, P[l + 'self_attn.v_proj.weight']), d.NKV);
    const kr = tf.gather(k, kvIndex, 1), vr = tf.gather(v, kvIndex, 1);   // repeat_kv
    const y = attention(q, kr, vr, 1 / Math.sqrt(d.HD), mask);
    const yc = tf.reshape(tf.transpose(y, [0, 2, 1, 3]), [B * T, d.NH * d.HD]);
    x = tf.add(x, lin(yc, P[l + 'self_attn.o_proj.weight']));
    const h = rmsNorm(x, P[l + 'post_attention_layernorm.weight'], d.eps);
    const g = lin(h, P[l + 'mlp.gate_proj.weight']);
    const u = lin(h, P[l + 'mlp.up_proj.weight']);
    x = tf.add(x, lin(tf.mul(tf.mul(g, tf.sigmoid(g)), u), P[l + 'mlp.down_proj.weight']));
  }
  const xf = rmsNorm(x, P['model.norm.weight'], d.eps);
  const head = d.tied ? P['model.embed_tokens.weight'] : P['lm_head.weight'];
  return lin(xf, head);
}

function crossEntropy(logits, targets, V) {
  // mean over all rows of logsumexp(logits) - logits[target]
  const lse = tf.logSumExp(logits, -1);
  const picked = tf.sum(tf.mul(logits, tf.oneHot(tf.reshape(targets, [-1]), V)), -1);
  return tf.mean(tf.sub(lse, picked));
}

// ---------------------------------------------------------------- the oracle computation

class Model {
  constructor(cfg, prefix, spec) {
    this.cfg = cfg; this.prefix = prefix; this.spec = spec;
    this.V = cfg.vocab_size;
  }
  logits(P, inputs, B, T) {
    return this.cfg.model_type === 'gpt2'
      ? gpt2Forward(this.cfg, this.prefix, P, inputs, B, T)
      : llamaForward(this.cfg, P, inputs, B, T);
  }
}

// params: Map name -> Float32Array (file order from spec). Returns all results as JS arrays.
function compute(model, params, inputsArr, targetsArr, B, T, adamw) {
  const names = model.spec.map((p) => p.name);
  const shapes = model.spec.map((p) => p.shape);
  const inputs = tf.tensor2d(inputsArr, [B, T], 'int32');
  const targets = tf.tensor2d(targetsArr, [B, T], 'int32');
  const toDict = (ts) => Object.fromEntries(names.map((n, i) => [n, ts[i]]));
  const lossFn = (...ts) => crossEntropy(model.logits(toDict(ts), inputs, B, T), targets, model.V);
  const vg = tf.valueAndGrads(lossFn);

  const evalAt = (cur) => tf.tidy(() => {
    const ts = names.map((n, i) => tf.tensor(cur.get(n), shapes[i], 'float32'));
    const { value, grads } = vg(ts);
    return { loss: value.dataSync()[0], grads: grads.map((g) => g.dataSync().slice()) };
  });

  const logits = tf.tidy(() => {
    const P = Object.fromEntries(names.map((n, i) => [n, tf.tensor(params.get(n), shapes[i], 'float32')]));
    return model.logits(P, inputs, B, T).dataSync().slice();
  });

  // AdamW state; arithmetic in float64, parameters stored back as float32 after each step
  const cur = new Map(names.map((n) => [n, Float32Array.from(params.get(n))]));
  const m = new Map(names.map((n) => [n, new Float64Array(params.get(n).length)]));
  const v = new Map(names.map((n) => [n, new Float64Array(params.get(n).length)]));
  const { lr, beta1: b1, beta2: b2, eps, weight_decay: wd, steps } = adamw;
  let loss0 = null, grads0 = null, after1 = null;
  const losses = [];
  let ev = evalAt(cur);
  for (let t = 1; t <= steps; t++) {
    if (t === 1) { loss0 = ev.loss; grads0 = ev.grads; }
    const bc1 = 1 - Math.pow(b1, t), bc2 = 1 - Math.pow(b2, t);
    names.forEach((n, i) => {
      const p = cur.get(n), mm = m.get(n), vv = v.get(n), g = ev.grads[i];
      for (let j = 0; j < p.length; j++) {
        mm[j] = b1 * mm[j] + (1 - b1) * g[j];
        vv[j] = b2 * vv[j] + (1 - b2) * g[j] * g[j];
        const mhat = mm[j] / bc1, vhat = vv[j] / bc2;
        p[j] = p[j] - lr * (mhat / (Math.sqrt(vhat) + eps) + wd * p[j]);
      }
    });
    if (t === 1) after1 = new Map(names.map((n) => [n, Float32Array.from(cur.get(n))]));
    ev = evalAt(cur);          // loss after t steps (and gradient for step t+1)
    losses.push(ev.loss);
  }
  inputs.dispose(); targets.dispose();
  return {
    logits, loss: loss0, grads: new Map(names.map((n, i) => [n, Float32Array.from(grads0[i])])),
    after1, losses,
  };
}

// ---------------------------------------------------------------- comparison rule (README)

function cmpTensor(x, r) {
  let dn = 0, rn = 0, dmax = 0, rmax = 0, xmax = 0;
  for (let i = 0; i < r.length; i++) {
    const d = x[i] - r[i];
    dn += d * d; rn += r[i] * r[i];
    dmax = Math.max(dmax, Math.abs(d)); rmax = Math.max(rmax, Math.abs(r[i])); xmax = Math.max(xmax, Math.abs(x[i]));
  }
  if (rmax === 0) return { rel_l2: 0, max_rel: 0, zero_ref: true, xmax };
  return { rel_l2: Math.sqrt(dn) / Math.sqrt(rn), max_rel: dmax / rmax };
}

function verify(dir) {
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'vectors.json'), 'utf8'));
  const weights = readSafetensors(path.join(dir, 'model.safetensors'));
  const vec = readSafetensors(path.join(dir, 'vectors.safetensors'));
  const prefix = cfg.model_type === 'gpt2' ? detectPrefix([...weights.keys()]) : '';
  const spec = paramSpec(cfg, prefix);
  for (const p of spec) {
    const w = weights.get(p.name);
    if (!w) throw new Error(`missing ${p.name} in model.safetensors`);
    if (JSON.stringify(w.shape) !== JSON.stringify(p.shape)) throw new Error(`${p.name}: shape ${w.shape} != ${p.shape}`);
  }
  if (weights.size !== spec.length) console.log(`note: model.safetensors has ${weights.size} tensors, model uses ${spec.length}`);
  const [B, T] = vec.get('inputs').shape;
  const params = new Map(spec.map((p) => [p.name, weights.get(p.name).data]));
  const t0 = Date.now();
  const res = compute(new Model(cfg, prefix, spec), params, vec.get('inputs').data, vec.get('targets').data, B, T, meta.adamw);
  console.log(`${dir}: recomputed in ${((Date.now() - t0) / 1000).toFixed(1)}s (B=${B}, T=${T}, ${spec.length} tensors)`);

  const lg = cmpTensor(res.logits, vec.get('logits').data);
  console.log(`logits             rel_l2 ${lg.rel_l2.toExponential(2)}  max_rel ${lg.max_rel.toExponential(2)}`);
  const lref = vec.get('loss').data[0];
  console.log(`loss               ours ${res.loss}  ref ${lref}  rel ${(Math.abs(res.loss - lref) / Math.abs(lref)).toExponential(2)}`);
  let worstG = { rel_l2: 0, max_rel: 0, n1: '', n2: '' };
  let worstU = { rel_l2: 0, max_rel: 0, abs: 0, n1: '', n2: '' };
  for (const p of spec) {
    const gr = vec.get('grad.' + p.name).data;
    const c = cmpTensor(res.grads.get(p.name), gr);
    if (c.rel_l2 > worstG.rel_l2) { worstG.rel_l2 = c.rel_l2; worstG.n1 = p.name; }
    if (c.max_rel > worstG.max_rel) { worstG.max_rel = c.max_rel; worstG.n2 = p.name; }
    // update comparison as in the README: d = after_step1 - w0 over entries with |g| >= 1e-2 max|g|
    const w0 = params.get(p.name), a1 = vec.get('after_step1.' + p.name).data, ours = res.after1.get(p.name);
    let gmax = 0; for (const g of gr) gmax = Math.max(gmax, Math.abs(g));
    const dr = [], dx = [];
    for (let j = 0; j < w0.length; j++) {
      const dref = a1[j] - w0[j], dours = ours[j] - w0[j];
      worstU.abs = Math.max(worstU.abs, Math.abs(dours - dref));
      if (Math.abs(gr[j]) >= 1e-2 * gmax) { dr.push(dref); dx.push(dours); }
    }
    const cu = cmpTensor(dx, dr);
    if (cu.rel_l2 > worstU.rel_l2) { worstU.rel_l2 = cu.rel_l2; worstU.n1 = p.name; }
    if (cu.max_rel > worstU.max_rel) { worstU.max_rel = cu.max_rel; worstU.n2 = p.name; }
  }
  console.log(`grad.* (worst)     rel_l2 ${worstG.rel_l2.toExponential(2)} (${worstG.n1})  max_rel ${worstG.max_rel.toExponential(2)} (${worstG.n2})`);
  console.log(`after_step1 update rel_l2 ${worstU.rel_l2.toExponential(2)} (${worstU.n1})  max_rel ${worstU.max_rel.toExponential(2)} (${worstU.n2})  max|d-d_ref| ${worstU.abs.toExponential(2)} (= ${(worstU.abs / meta.adamw.lr).toExponential(2)} lr)`);
  const lr = vec.get('losses_after_steps').data;
  const rels = res.losses.map((l, i) => Math.abs(l - lr[i]) / Math.abs(lr[i]));
  console.log(`losses_after_steps ours [${res.losses.map((l) => l.toFixed(7)).join(', ')}]`);
  console.log(`                   ref  [${Array.from(lr).map((l) => l.toFixed(7)).join(', ')}]  max rel ${Math.max(...rels).toExponential(2)}`);
}

// ---------------------------------------------------------------- generation

function initParams(spec, rng) {
  const params = new Map();
  for (const p of spec) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const z = rng.normal();
      a[i] = p.kind === 'nw' ? 1 + 0.1 * z : 0.02 * z;
    }
    params.set(p.name, a);
  }
  return params;
}

function conventions(cfg, prefix) {
  const common = {
    targets: 'explicit next-token targets of shape [B,T], no internal shift',
    loss: 'mean cross-entropy over all B*T positions (logsumexp - target logit), computed in fp32',
    adamw: 'bias-corrected Adam with decoupled weight decay: p -= lr*((m/(1-b1^t))/(sqrt(v/(1-b2^t))+eps) + wd*p), applied to every parameter (norm weights, biases and embeddings included), step t starts at 1; optimizer arithmetic in float64, parameters rounded to float32 after each step',
    losses_after_steps: 'losses_after_steps[i] is the loss on the same batch after i+1 AdamW steps',
  };
  if (cfg.model_type === 'gpt2') {
    return {
      ...common,
      model: 'HF GPT2LMHeadModel, no dropout: x = wte[tok] + wpe[pos]; x += c_proj(attn(ln_1(x))); x += mlp.c_proj(gelu(mlp.c_fc(ln_2(x)))); logits = ln_f(x) @ wte^T',
      gelu: 'tanh approximation (gelu_new): 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3)))',
      layernorm: `(x-mean)/sqrt(biased_var+eps)*w+b, layer_norm_epsilon = ${pyFloat(cfg.layer_norm_epsilon)}`,
      layernorm_eps: cfg.layer_norm_epsilon,
      attention: 'causal, scores * head_dim^-0.5, softmax in fp32; c_attn output split into q | k | v column blocks of n_embd each, head h = columns h*head_dim..(h+1)*head_dim-1 of each block',
      weights: `HF GPT-2 Conv1D layout: c_attn.weight is [n_embd, 3*n_embd], y = x @ W + b; lm_head tied to wte; tensor names ${prefix ? "with the 'transformer.' prefix" : "WITHOUT the 'transformer.' prefix (as in the original gpt2 checkpoints on the hub)"}`,
      init: "mulberry32(seed) uniforms, Box-Muller normals; tensors drawn in model.safetensors order: ln_*.weight = 1 + 0.1*N(0,1), everything else (weights, embeddings, biases, ln_*.bias) 0.02*N(0,1); then inputs and targets floor(u*vocab_size)",
    };
  }
  const d = llamaDims(cfg);
  return {
    ...common,
    model: `HF LlamaForCausalLM, eager attention, no dropout, no biases; x += o_proj(attn(input_layernorm(x))); x += down(silu(gate(h)) * up(h)), h = post_attention_layernorm(x); logits = ${d.tied ? 'norm(x) @ embed_tokens^T (tied head)' : 'lm_head(norm(x))'}`,
    rmsnorm: `x * rsqrt(mean(x^2, -1) + rms_norm_eps) * w, rms_norm_eps = ${pyFloat(cfg.rms_norm_eps)}`,
    rope: `HF rotate_half convention: inv_freq[j] = rope_theta^(-2j/head_dim), j < head_dim/2, rope_theta = ${pyFloat(cfg.rope_theta)}, head_dim = ${d.HD}; angle = pos*inv_freq with pos = 0..T-1; cos/sin = concat(f, f); q' = q*cos + rotate_half(q)*sin, rotate_half(x) = concat(-x[hd/2:], x[:hd/2]); same for k; cos/sin tables computed in float64 and rounded to float32`,
    attention: 'causal, scores * head_dim^-0.5, softmax in fp32; GQA: query head h uses kv head h // (num_attention_heads/num_key_value_heads) (HF repeat_kv)',
    head_dim: `head_dim = ${d.HD} from config.json (not hidden_size/num_attention_heads = ${d.H / d.NH}); q_proj [${d.NH * d.HD},${d.H}], k_proj/v_proj [${d.NKV * d.HD},${d.H}], o_proj [${d.H},${d.NH * d.HD}]`,
    activation: 'silu(x) = x * sigmoid(x)',
    weights: `HF Llama names, nn.Linear layout [out, in], y = x @ W^T; ${d.tied ? 'tie_word_embeddings = true: there is NO lm_head.weight, the head uses model.embed_tokens.weight, whose gradient includes both the embedding and the head contributions' : 'untied lm_head.weight'}`,
    init: 'mulberry32(seed) uniforms, Box-Muller normals; tensors drawn in model.safetensors order: *norm.weight = 1 + 0.1*N(0,1), all others 0.02*N(0,1); then inputs and targets floor(u*vocab_size)',
  };
}

// config.json as Hugging Face (Python json) writes it: float fields keep a decimal point or a
// two-digit exponent (10000.0, 1e-05, 0.0), which JSON.stringify would print as 10000, 0.00001, 0.
const FLOAT_KEYS = new Set(['layer_norm_epsilon', 'rms_norm_eps', 'rope_theta', 'resid_pdrop',
  'embd_pdrop', 'attn_pdrop', 'attention_dropout']);
function pyFloat(x) {
  if (Number.isInteger(x)) return x.toFixed(1);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-4 || a >= 1e16)) {
    const [m, e] = x.toExponential().split('e');
    const n = parseInt(e, 10);
    return `${m}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(x);
}
function configJson(cfg) {
  const marks = {};
  const body = JSON.stringify(cfg, (k, v) => {
    if (FLOAT_KEYS.has(k) && typeof v === 'number') { const t = `@@F${Object.keys(marks).length}@@`; marks[t] = pyFloat(v); return t; }
    return v;
  }, 2);
  return body.replace(/"(@@F\d+@@)"/g, (_, t) => marks[t]) + '\n';
}

function generate(presetName, outDir) {
  const pr = PRESETS[presetName];
  if (!pr) throw new Error(`unknown preset ${presetName}; try: ${Object.keys(PRESETS).join(', ')}`);
  const cfg = pr.config, prefix = pr.prefix ?? '';
  const B = pr.batch, T = pr.seq_len;
  const maxPos = cfg.model_type === 'gpt2' ? cfg.n_positions : cfg.max_position_embeddings;
  if (T > maxPos) throw new Error('seq_len exceeds the position limit');
  const spec = paramSpec(cfg, prefix);
  const rng = makeRng(pr.seed);
  const params = initParams(spec, rng);
  const inputs = Int32Array.from({ length: B * T }, () => rng.int(cfg.vocab_size));
  const targets = Int32Array.from({ length: B * T }, () => rng.int(cfg.vocab_size));
  const t0 = Date.now();
  const res = compute(new Model(cfg, prefix, spec), params, inputs, targets, B, T, ADAMW);
  const secs = ((Date.now() - t0) / 1000).toFixed(1);

  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'config.json'), configJson(cfg));
  writeSafetensors(path.join(outDir, 'model.safetensors'),
    spec.map((p) => [p.name, { dtype: 'F32', shape: p.shape, data: params.get(p.name) }]),
    { format: 'pt' });
  const V = cfg.vocab_size;
  const entries = [
    ['inputs', { dtype: 'I32', shape: [B, T], data: inputs }],
    ['targets', { dtype: 'I32', shape: [B, T], data: targets }],
    ['logits', { dtype: 'F32', shape: [B, T, V], data: Float32Array.from(res.logits) }],
    ['loss', { dtype: 'F64', shape: [1], data: Float64Array.from([res.loss]) }],
    ['losses_after_steps', { dtype: 'F64', shape: [ADAMW.steps], data: Float64Array.from(res.losses) }],
  ];
  for (const p of spec) entries.push(['grad.' + p.name, { dtype: 'F32', shape: p.shape, data: res.grads.get(p.name) }]);
  for (const p of spec) entries.push(['after_step1.' + p.name, { dtype: 'F32', shape: p.shape, data: res.after1.get(p.name) }]);
  writeSafetensors(path.join(outDir, 'vectors.safetensors'), entries);
  const tfVersion = require('@tensorflow/tfjs/package.json').version;
  const meta = {
    oracle: `TensorFlow.js ${tfVersion} autodiff (tf.valueAndGrads), backend '${tf.getBackend()}' (pure-JS tfjs-backend-cpu, fp32), Node.js ${process.version}; resflow tools/testvectors-tfjs/generate.js preset ${presetName}`,
    batch: B,
    seq_len: T,
    seed: pr.seed,
    adamw: ADAMW,
    loss_at_step0: res.loss,
    losses_after_steps: res.losses,
    conventions: conventions(cfg, prefix),
  };
  fs.writeFileSync(path.join(outDir, 'vectors.json'), JSON.stringify(meta, null, 2) + '\n');
  console.log(`${presetName}: ${spec.length} tensors, ${spec.reduce((a, p) => a + params.get(p.name).length, 0)} params, loss ${res.loss.toFixed(6)} -> ${res.losses[res.losses.length - 1].toFixed(6)} after ${ADAMW.steps} steps (${secs}s) -> ${outDir}`);
}

// ---------------------------------------------------------------- CLI

async function main() {
  await tf.setBackend('cpu');
  const [cmd, ...args] = process.argv.slice(2);
  const root = path.resolve(__dirname, '..', '..', 'testvectors');
  if (cmd === 'list') {
    for (const [n, p] of Object.entries(PRESETS)) console.log(n, JSON.stringify({ model_type: p.config.model_type, B: p.batch, T: p.seq_len, seed: p.seed }));
  } else if (cmd === 'generate' && args[0]) {
    generate(args[0], args[1] ? path.resolve(args[1]) : path.join(root, args[0]));
  } else if (cmd === 'all') {
    for (const n of Object.keys(PRESETS)) generate(n, path.join(root, n));
  } else if (cmd === 'verify' && args.length) {
    for (const d of args) verify(path.resolve(d));
  } else {
    console.error('usage: node generate.js list | generate <preset> [outDir] | all | verify <folder>...');
    process.exit(2);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
