package io.resflow.cli.options;

import io.resflow.engine.Precision;
import picocli.CommandLine.Option;

/**
 * {@code --dtype fp32|bf16}: what a command computes in (see {@link Precision}: bf16 is PyTorch's bf16 autocast,
 * fp32 master weights). Without the option: a run config's {@code "dtype"} where the command reads one, else fp32.
 */
public final class DtypeOption {
    @Option(names = "--dtype", paramLabel = "DTYPE",
            description = "fp32 or bf16 (bf16 operands and outputs of every matmul and of attention, fp32 accumulation,"
                    + " fp32 master weights, norms, softmax, loss and update, as torch.autocast with bfloat16)"
                    + " (default: the run config's \"dtype\", else fp32).")
    String spec;

    /** The given dtype, else fp32. */
    public Precision precision() {
        return orElse(Precision.FP32);
    }

    /** The given dtype, else {@code fallback} (a run config's). */
    public Precision orElse(Precision fallback) {
        return spec == null ? fallback : Precision.parse(spec, "--dtype");
    }

    /** Whether --dtype was given. */
    public boolean given() {
        return spec != null;
    }
}
