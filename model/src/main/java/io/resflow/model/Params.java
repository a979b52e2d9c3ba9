package io.resflow.model;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** Named parameter (or gradient) tensors of one model, in layout order. */
public final class Params {
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    public static Params zeros(ParamLayout layout) {
        Params p = new Params();
        for (ParamSpec s : layout.specs()) {
            p.put(Tensor.zeros(s.name(), s.shape()));
        }
        return p;
    }

    public void put(Tensor t) {
        tensors.put(t.name(), t);
    }

    public Tensor get(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no parameter named " + name);
        }
        return t;
    }

    /** The data of a tensor, or null when the model has no such parameter (e.g. biases in Llama). */
    public float[] dataOrNull(String name) {
        Tensor t = tensors.get(name);
        return t == null ? null : t.data();
    }

    public float[] data(String name) {
        return get(name).data();
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    public Set<String> names() {
        return tensors.keySet();
    }

    public Collection<Tensor> tensors() {
        return tensors.values();
    }

    public Params copy() {
        Params p = new Params();
        for (Tensor t : tensors.values()) {
            p.put(t.copy());
        }
        return p;
    }

    /** Floats before tensor {@code name} in layout order: its offset in the flat array {@link #totalSize()} long. */
    public long offset(String name) {
        get(name);
        long n = 0;
        for (Tensor t : tensors.values()) {
            if (t.name().equals(name)) {
                return n;
            }
            n += t.size();
        }
        throw new IllegalStateException(name);
    }

    public long totalSize() {
        long n = 0;
        for (Tensor t : tensors.values()) {
            n += t.size();
        }
        return n;
    }

    /** Copies every tensor's values from {@code other}, which must have the same names and sizes. */
    public void copyFrom(Params other) {
        for (Tensor t : tensors.values()) {
            float[] src = other.data(t.name());
            System.arraycopy(src, 0, t.data(), 0, src.length);
        }
    }

    /** Checks that the names and shapes match the layout exactly. */
    public void checkAgainst(ParamLayout layout, String source) {
        for (ParamSpec s : layout.specs()) {
            Tensor t = tensors.get(s.name());
            if (t == null) {
                throw new BadInputException(source + ": missing parameter " + s.name());
            }
            if (!java.util.Arrays.equals(t.shape(), s.shape())) {
                throw new BadInputException(source + ": parameter " + s.name() + " has shape " + t.shapeString()
                        + " but the config needs " + java.util.Arrays.toString(s.shape()));
            }
        }
        for (String n : tensors.keySet()) {
            if (!layout.has(n)) {
                throw new BadInputException(source + ": unexpected parameter " + n);
            }
        }
    }
}
