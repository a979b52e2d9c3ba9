package io.resflow.tornado;

import io.resflow.engine.Decoder;
import io.resflow.engine.KvCacheDecoder;
import io.resflow.engine.Precision;
import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;
import io.resflow.model.Params;
import io.resflow.tornado.kernels.Args;
import java.util.ArrayList;
import java.util.List;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.types.arrays.FloatArray;
import uk.ac.manchester.tornado.api.types.arrays.IntArray;

/**
 * A {@link Decoder} on one TornadoVM device. The parameters, the activations of one row ({@link DeviceLayout} of
 * batch 1, sequence 1) and the KV cache of every layer ({@code kv}, {@link DeviceOps#attentionDecode}) live on the
 * device. One decode step is one execution of one task graph, {@code decode}:
 * <pre>
 * in:  step = [token, position]                       (8 bytes, every execution)
 * embed                                               wte[token] (+ wpe[position]) -> h_0
 * per layer l (unrolled, layer index l in its own 1-int array):
 *   attention block: norm, qkv matmul, RoPE at the position, k and v into cache row `position`, scores over cache
 *                    rows 0 .. position, softmax, weighted sum of v, projection, residual join (post-norm as configured)
 *   MLP block:       as the training graphs' (BlockForward)
 * head                                                final norm, logits matmul
 * out: logits (V floats, every execution)
 * </pre>
 * A prompt is prefilled one position per execution (each adds its row to the cache; nothing is recomputed). The plan's
 * device checks apply ({@link GraphPlan}): a task that fell back to Java or did not launch fails the step.
 *
 * <p>In bf16 ({@link Precision#BF16}) a graph {@code weights} runs once when the decoder opens and makes the
 * parameters' 16-bit copy on the device, which every matmul of every step reads; the step graph has KvDecoder's
 * rounding points as rounding tasks (the blocks' as in training, {@link BlockForward}; q|k|v after RoPE, so the
 * cache holds the rounded k and v; lnf and the logits).
 */
public final class TornadoDecoder extends KvCacheDecoder {
    private final DeviceLayout d;
    private final DeviceBuffers b;
    private final DeviceOps ops;
    private final BlockForward block;
    private final FloatArray kv;
    private final IntArray step = new IntArray(2);
    private final FloatArray logitsOut;
    private final float[] logits;
    private final GraphPlan plan;
    private long[] lastStep = {0, 0};

    TornadoDecoder(ModelConfig config, Params params, int capacity, TornadoDevice device, boolean strict,
            String describe) {
        this(config, params, capacity, device, strict, describe, Precision.FP32);
    }

    TornadoDecoder(ModelConfig config, Params params, int capacity, TornadoDevice device, boolean strict,
            String describe, Precision precision) {
        super(config, params, capacity, describe);
        long cacheFloats = DeviceOps.decodeCacheSize(config, capacity);
        if (cacheFloats >= Integer.MAX_VALUE) {
            throw new BadInputException("the tornado backend indexes each device array with 32-bit ints; a KV cache "
                    + "of " + capacity + " positions needs " + cacheFloats + " floats: use a shorter max_seq_len");
        }
        boolean bf16 = precision == Precision.BF16;
        this.d = new DeviceLayout(config, 1, 1, false, false, bf16);
        d.requireIntOffsets();
        this.b = DeviceBuffers.forDecoding(config, d, capacity);
        this.ops = new DeviceOps(config, b, new LaunchShapes(device));
        this.block = new BlockForward(config, d, ops);
        this.kv = new FloatArray((int) cacheFloats);
        this.logitsOut = new FloatArray(d.V);
        this.logits = new float[d.V];
        b.upload(params, b.p);
        List<GraphSpec> specs = new ArrayList<>();
        specs.add(b.ownerGraph(ops.shapes()));
        if (bf16) {
            GraphSpec weights = new GraphSpec("weights", b.zero);
            ops.bf16Weights(weights, "weights");
            specs.add(weights);
        }
        specs.add(decodeGraph());
        this.plan = new GraphPlan(device, strict, specs, b.shared(), d.bytes().parameters()
                + 4L * (d.actSize + cacheFloats));
        if (bf16) {
            plan.run("weights"); // the parameters never change: once
        }
    }

    private GraphSpec decodeGraph() {
        GraphSpec s = new GraphSpec("decode", b.zero).everyExecution(step).toHost(logitsOut);
        ops.embedAt(s, "embed", step, d.hA);
        for (int l = 0; l < d.L; l++) {
            IntArray layer = Args.of(l);
            block.add(s, "l" + l + "_a_", true, layer, this::attentionCore);
            block.add(s, "l" + l + "_m_", false, layer, this::attentionCore);
        }
        ops.normForward(s, "norm", b.zero, d.lnf, d.lnfStats, d.hFinal, d.param("lnf.w"), d.param("lnf.b"), 0, 0);
        block.round(s, "round_norm", b.zero, d.lnf, d.C);
        ops.matmul(s, "logits", b.zero, d.logits, d.lnf, c.tieEmbeddings() ? d.param("wte") : d.param("lm_head"), -1,
                0, 0, d.C, d.V);
        block.round(s, "round_logits", b.zero, d.logits, d.V);
        ops.copyOut(s, "out", d.logits, d.V, logitsOut);
        return s;
    }

    /** Attention's core in the decoder: RoPE at the step's position, then one query against the KV cache. */
    private void attentionCore(GraphSpec s, String prefix, IntArray layer) {
        if (!c.learnedPositions()) {
            ops.ropeAt(s, prefix + "rope", layer, step, d.qkv, d.aStride, cap);
            block.round(s, prefix + "round_rope", layer, d.qkv, d.qkvDim);
        }
        ops.attentionDecode(s, prefix, layer, step, kv, d.att, d.qkv, d.aStride, cap);
    }

    /** One execution of the decode graph per token: each adds its row to the cache. */
    @Override
    protected float[] forward(int[] tokens, int n, int at) {
        float[] out = null;
        for (int i = 0; i < n; i++) {
            out = step(tokens[i], at + i);
        }
        return out;
    }

    private float[] step(int token, int position) {
        step.set(0, token);
        step.set(1, position);
        plan.resetBytes();
        plan.run("decode");
        lastStep = plan.bytes();
        for (int v = 0; v < logits.length; v++) {
            logits[v] = logitsOut.get(v);
        }
        return logits;
    }

    /** Bytes copied {host to device, device to host} by the last step, as TornadoVM's profiler counts them. */
    public long[] lastStepBytes() {
        return lastStep.clone();
    }

    @Override
    public void close() {
        plan.close();
    }
}
