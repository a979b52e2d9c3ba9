package io.resflow.model;

/** One parameter tensor of a model: its internal name, shape, and how it is initialised. */
public record ParamSpec(String name, int[] shape, Init init, double scale) {

    public enum Init { NORMAL, ZEROS, ONES }

    public long size() {
        return Tensor.numel(shape);
    }
}
