package io.resflow.cli.options;

import io.resflow.train.ModelSource;
import java.nio.file.Path;
import picocli.CommandLine.Parameters;

/** The positional MODEL of generate, gradcheck and export: every form {@link ModelSource#resolve} reads. */
public final class ModelArgument {
    @Parameters(index = "0", paramLabel = "MODEL", description = "A model config (seeded weights), a model folder "
            + "(Hugging Face, or an export), a run folder (its newest checkpoint that verifies) or a checkpoint "
            + "(ckpt-<step>.safetensors).")
    public Path path;

    /** The model, weights loaded on first use. */
    public ModelSource open() {
        return ModelSource.resolve(path, "MODEL");
    }
}
