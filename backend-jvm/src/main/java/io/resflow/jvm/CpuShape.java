package io.resflow.jvm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import jdk.incubator.vector.FloatVector;

/**
 * What the kernels' blocking is chosen from: the vector shape the JVM gives ({@code FloatVector.SPECIES_PREFERRED}),
 * the number of vector registers that shape implies, and the data cache sizes of the CPU (Linux sysfs,
 * {@code /sys/devices/system/cpu/cpu0/cache/index*}; typical sizes when that is absent).
 *
 * <p>Vector registers: x86 has 16 of 128- or 256-bit vectors (SSE, AVX2) and 32 with AVX-512, at every width where
 * the CPU has AVX-512VL and the JVM emits AVX-512 (EVEX) code ({@code -XX:UseAVX=3}, its default there): so an AVX-512
 * CPU run with {@code -XX:MaxVectorSize=32} still has 32 (measured on Zen 4: the 6 x 4 tile, 29 registers, ran its
 * in-cache micro-kernel at 98% of one core's FMA peak at 256 bits, so nothing spilled). AArch64 has 32 (NEON, SVE).
 * The JVM does not report the count, so it follows from the architecture, the width and those two flags.
 */
public record CpuShape(int vectorBits, int lanes, int vectorRegisters, long l1d, long l2, long l3) {

    /**
     * AVX-512VL in the CPU and EVEX code from the JVM, read once: 32 vector registers at every width, and two-source
     * selects in one instruction at 256 bits (declared before HOST, which reads it).
     */
    static final boolean EVEX_VL = evex() && twoSourcePermute();

    /** The shape of this JVM on this machine, read once. */
    public static final CpuShape HOST = detect();

    static CpuShape detect() {
        int bits = FloatVector.SPECIES_PREFERRED.vectorBitSize();
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        boolean x86 = arch.contains("amd64") || arch.contains("x86");
        int regs = x86 && bits < 512 && !EVEX_VL ? 16 : 32;
        long l1 = 32 << 10;
        long l2 = 512 << 10;
        long l3 = 8 << 20;
        Path dir = Path.of("/sys/devices/system/cpu/cpu0/cache");
        for (int i = 0; i < 8; i++) {
            Path idx = dir.resolve("index" + i);
            try {
                if (!Files.isDirectory(idx)) {
                    continue;
                }
                String type = Files.readString(idx.resolve("type")).trim();
                int level = Integer.parseInt(Files.readString(idx.resolve("level")).trim());
                long size = parseSize(Files.readString(idx.resolve("size")).trim());
                if (size <= 0 || type.equals("Instruction")) {
                    continue;
                }
                switch (level) {
                    case 1 -> l1 = size;
                    case 2 -> l2 = size;
                    case 3 -> l3 = size;
                    default -> { }
                }
            } catch (IOException | RuntimeException e) {
                // keep the typical sizes
            }
        }
        return new CpuShape(bits, FloatVector.SPECIES_PREFERRED.length(), regs, l1, l2, l3);
    }

    /**
     * Whether one instruction selects lanes from two vectors at widths below 512 bits (x86: AVX-512VL's
     * {@code vpermt2ps} on ymm registers, so also with {@code -XX:MaxVectorSize=32} on an AVX-512 CPU); AVX2 alone
     * lacks it and C2 emulates the select in several instructions. From the flags in /proc/cpuinfo; false where that
     * is unreadable or not x86.
     */
    static boolean twoSourcePermute() {
        try (var lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            return lines.filter(l -> l.startsWith("flags")).findFirst()
                    .map(l -> java.util.Arrays.asList(l.substring(l.indexOf(':') + 1).trim().split("\\s+"))
                            .contains("avx512vl"))
                    .orElse(false);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Whether this JVM emits AVX-512 (EVEX) code: {@code UseAVX} of 3 or more; false where that is unreadable. */
    static boolean evex() {
        try {
            var bean = java.lang.management.ManagementFactory.getPlatformMXBean(
                    com.sun.management.HotSpotDiagnosticMXBean.class);
            return Integer.parseInt(bean.getVMOption("UseAVX").getValue()) >= 3;
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    /** "32K", "512K", "8192K", "1M" (sysfs) in bytes; -1 when unreadable. */
    static long parseSize(String s) {
        if (s.isEmpty()) {
            return -1;
        }
        char u = Character.toUpperCase(s.charAt(s.length() - 1));
        long mul = switch (u) {
            case 'K' -> 1L << 10;
            case 'M' -> 1L << 20;
            case 'G' -> 1L << 30;
            default -> 1;
        };
        String digits = Character.isDigit(u) ? s : s.substring(0, s.length() - 1);
        return Long.parseLong(digits.trim()) * mul;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%d-bit vectors (%d lanes), %d vector registers, L1d %d KiB, L2 %d KiB, L3 %d KiB",
                vectorBits, lanes, vectorRegisters, l1d >> 10, l2 >> 10, l3 >> 10);
    }
}
