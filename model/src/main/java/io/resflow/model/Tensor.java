package io.resflow.model;

import java.util.Arrays;

/** A named float32 tensor, row-major. */
public record Tensor(String name, int[] shape, float[] data) {

    public Tensor {
        long n = numel(shape);
        if (n != data.length) {
            throw new IllegalArgumentException(name + ": shape " + Arrays.toString(shape) + " needs " + n + " values, got " + data.length);
        }
    }

    public static Tensor zeros(String name, int... shape) {
        return new Tensor(name, shape.clone(), new float[Math.toIntExact(numel(shape))]);
    }

    public static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    public int size() {
        return data.length;
    }

    public Tensor copy() {
        return new Tensor(name, shape.clone(), data.clone());
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }
}
