package io.resflow.safetensors;

import java.util.Arrays;

/**
 * One tensor's entry in a safetensors header.
 *
 * @param name  the tensor's name
 * @param dtype its element type
 * @param shape its shape (empty for a scalar); do not modify
 * @param begin first byte, relative to the start of the data section (as written in {@code data_offsets})
 * @param end   one past the last byte, relative to the start of the data section
 */
public record TensorInfo(String name, DType dtype, int[] shape, long begin, long end) {

    /** Number of elements (1 for a scalar). */
    public long numel() {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    /** Size of the data in bytes. */
    public long byteSize() {
        return end - begin;
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + shapeString() + " [" + begin + ", " + end + ")";
    }
}
