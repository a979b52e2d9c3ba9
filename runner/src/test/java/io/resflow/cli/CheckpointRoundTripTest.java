package io.resflow.cli;

import io.resflow.train.Checkpoints;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.resflow.engine.Backends;
import io.resflow.engine.OptimizerState;
import io.resflow.engine.Session;
import io.resflow.engine.SessionOptions;
import io.resflow.model.Activation;
import io.resflow.model.Family;
import io.resflow.model.Initializer;
import io.resflow.model.ModelConfig;
import io.resflow.model.Norm;
import io.resflow.model.Params;
import io.resflow.model.Positions;
import io.resflow.model.Residual;
import io.resflow.model.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Property: for random models (family, residual scheme, sizes), random parameters and AdamW moments (every float bit
 * pattern: NaN payloads, -0, subnormals, infinities) and a random step and data position, a checkpoint written and
 * read back gives the same bits, the same step, position and metadata, and it verifies; truncated anywhere or with
 * any one byte changed, it does not verify. 40 seeded cases (the seed is in the test name).
 */
class CheckpointRoundTripTest {
    @TempDir
    Path tmp;

    static java.util.stream.LongStream seeds() {
        return java.util.stream.LongStream.range(1, 41);
    }

    private static ModelConfig randomModel(SplittableRandom r) {
        boolean gpt2 = r.nextBoolean();
        int nKv = 1 + r.nextInt(2);
        int nHead = nKv * (1 + r.nextInt(2));
        int headDim = 2 * (1 + r.nextInt(3));
        Residual res = Residual.values()[r.nextInt(Residual.values().length)];
        return new ModelConfig(gpt2 ? Family.GPT2 : Family.LLAMA, 1 + r.nextInt(3), nHead * headDim, nHead,
                gpt2 ? nHead : nKv, headDim, 1 + r.nextInt(24), 2 + r.nextInt(40), 4 + r.nextInt(8),
                gpt2 ? Norm.LAYERNORM : Norm.RMSNORM, 1e-5, gpt2 ? Activation.GELU_TANH : Activation.SWIGLU,
                gpt2 ? Positions.LEARNED : Positions.ROPE, 10000, r.nextBoolean(), res, r.nextLong());
    }

    private static float randomFloat(SplittableRandom r) {
        return switch (r.nextInt(6)) {
            case 0 -> Float.intBitsToFloat(r.nextInt()); // any bit pattern, NaN payloads included
            case 1 -> -0.0f;
            case 2 -> Float.MIN_VALUE * (1 + r.nextInt(1000));
            case 3 -> r.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
            default -> (float) r.nextGaussian();
        };
    }

    private static Params randomLike(Params p, SplittableRandom r) {
        Params out = new Params();
        for (Tensor t : p.tensors()) {
            float[] d = new float[t.data().length];
            for (int i = 0; i < d.length; i++) {
                d[i] = randomFloat(r);
            }
            out.put(new Tensor(t.name(), t.shape().clone(), d));
        }
        return out;
    }

    private static void sameBits(Params want, Params got, String what) {
        assertEquals(want.names(), got.names(), what);
        for (Tensor t : want.tensors()) {
            float[] a = t.data();
            float[] b = got.data(t.name());
            int[] ia = new int[a.length];
            int[] ib = new int[b.length];
            for (int i = 0; i < a.length; i++) {
                ia[i] = Float.floatToRawIntBits(a[i]);
                ib[i] = Float.floatToRawIntBits(b[i]);
            }
            assertArrayEquals(ia, ib, what + " " + t.name());
        }
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void writtenAndReadBackBitForBitAndEveryDamageIsDetected(long seed) throws Exception {
        SplittableRandom r = new SplittableRandom(seed);
        ModelConfig c = randomModel(r);
        Params p = randomLike(Initializer.init(c), r);
        OptimizerState o = new OptimizerState(randomLike(p, r), randomLike(p, r), r.nextInt(1_000_000));
        int step = r.nextInt(100_000_000);
        long position = r.nextLong(Long.MAX_VALUE);
        Path run = tmp.resolve("run");
        Path file;
        try (Session s = Backends.resolve("reference").open(c, Initializer.init(c), 1, 2, new SessionOptions(false))) {
            s.restore(p, o);
            file = Checkpoints.save(run, step, s, position, Map.of("backend", "reference", "note", "seed " + seed), 2);
        }
        assertNull(Checkpoints.problem(file));
        Checkpoints.Checkpoint ck = Checkpoints.load(file, c);
        assertEquals(step, ck.step());
        assertEquals(position, ck.dataPosition());
        assertEquals(o.step(), ck.optimizer().step());
        assertEquals("seed " + seed, ck.metadata().get("note"));
        sameBits(p, ck.params(), "parameters");
        sameBits(o.m(), ck.optimizer().m(), "m");
        sameBits(o.v(), ck.optimizer().v(), "v");
        assertEquals(file, Checkpoints.selectForResume(run, "").file());

        byte[] good = Files.readAllBytes(file);
        int at = r.nextInt(good.length);
        byte[] bad = good.clone();
        bad[at] ^= (byte) (1 + r.nextInt(255));
        Files.write(file, bad);
        assertNotNull(Checkpoints.problem(file), "byte " + at + " changed");
        Raw.bytes(file, good);
        Raw.truncate(file, r.nextInt(good.length));
        assertNotNull(Checkpoints.problem(file), "truncated");
    }
}
