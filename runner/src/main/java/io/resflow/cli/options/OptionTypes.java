package io.resflow.cli.options;

import io.resflow.model.BadInputException;
import io.resflow.model.ModelConfig;
import io.resflow.model.Sizes;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * How every command's numeric options are checked: by their meaning, in one place. Options name a converter here
 * ({@code @Option(converter = OptionTypes.PositiveInt.class)}); picocli reports a value out of range as bad input
 * (exit 2) naming the option: {@code Invalid value for option '--samples': must be a positive integer, got '0'}.
 * Limits that depend on the model ({@code --seq-len} up to its max_seq_len, batch sizes) are {@link #seqLen} and
 * {@link #batch}.
 */
public final class OptionTypes {
    private OptionTypes() {
    }

    /** An integer of at least 1 (a count of steps, samples, repeats). */
    public static final class PositiveInt implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            int v = parseInt(value);
            if (v < 1) {
                throw new TypeConversionException("must be a positive integer (1 or more), got '" + value + "'");
            }
            return v;
        }
    }

    /** An integer of at least 0. */
    public static final class NonNegativeInt implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            int v = parseInt(value);
            if (v < 0) {
                throw new TypeConversionException("must be 0 or more, got '" + value + "'");
            }
            return v;
        }
    }

    /** A relative tolerance: a number above 0 and below 1 (1 or more would accept a result of all zeros). */
    public static final class Tolerance implements ITypeConverter<Double> {
        @Override
        public Double convert(String value) {
            double v = parseDouble(value);
            if (!(v > 0 && v < 1)) {
                throw new TypeConversionException("must be a relative tolerance above 0 and below 1, got '" + value + "'");
            }
            return v;
        }
    }

    /** A finite number above 0 (e.g. a loss threshold). */
    public static final class PositiveNumber implements ITypeConverter<Double> {
        @Override
        public Double convert(String value) {
            double v = parseDouble(value);
            if (!(v > 0) || !Double.isFinite(v)) {
                throw new TypeConversionException("must be a positive number, got '" + value + "'");
            }
            return v;
        }
    }

    private static int parseInt(String value) {
        try {
            return Integer.parseInt(value.strip());
        } catch (NumberFormatException e) {
            throw new TypeConversionException("'" + value + "' is not an integer");
        }
    }

    private static double parseDouble(String value) {
        try {
            return Double.parseDouble(value.strip());
        } catch (NumberFormatException e) {
            throw new TypeConversionException("'" + value + "' is not a number");
        }
    }

    /** A sequence length option: 1 up to the model's max_seq_len. */
    public static int seqLen(String option, int value, ModelConfig c) {
        if (value < 1 || value > c.maxSeqLen()) {
            throw new BadInputException(option + ": must be in 1.." + c.maxSeqLen() + " (the model's max_seq_len), got "
                    + value);
        }
        return value;
    }

    /** Batch size and sequence length given as options: every buffer they make must fit (see {@link Sizes}). */
    public static void batch(String batchOption, int batch, String seqOption, int seqLen, ModelConfig c) {
        Sizes.checkBatch(c, new Sizes.Dim(batchOption, batchOption, batch), new Sizes.Dim(seqOption, seqOption, seqLen));
    }
}
