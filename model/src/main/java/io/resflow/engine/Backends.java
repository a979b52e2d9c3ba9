package io.resflow.engine;

import io.resflow.model.BadInputException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;

/**
 * Resolves a backend spec: {@code reference}, {@code jvm}, {@code tornado}, {@code tornado:<driver>:<device>}, or
 * {@code auto} (a TornadoVM non-CPU device if one is present, else the fastest CPU backend: jvm, else reference).
 */
public final class Backends {
    private Backends() {
    }

    public static List<BackendProvider> providers() {
        List<BackendProvider> list = new ArrayList<>();
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            list.add(p);
        }
        list.sort(Comparator.comparingInt(BackendProvider::autoRank));
        return list;
    }

    public static Backend resolve(String spec) {
        if (spec == null || spec.isBlank()) {
            throw new BadInputException("backend: empty name");
        }
        List<BackendProvider> providers = providers();
        if (spec.equals("auto")) {
            for (BackendProvider p : providers) {
                if (p.hasAccelerator()) {
                    return p.create("");
                }
            }
            return providers.get(0).create("");
        }
        int colon = spec.indexOf(':');
        String name = colon < 0 ? spec : spec.substring(0, colon);
        String args = colon < 0 ? "" : spec.substring(colon + 1);
        for (BackendProvider p : providers) {
            if (p.name().equals(name)) {
                return p.create(args);
            }
        }
        List<String> names = providers.stream().map(BackendProvider::name).toList();
        String hint = name.equals("tornado")
                ? " (the TornadoVM module is not on the class path: install TornadoVM and set TORNADOVM_HOME, see README)"
                : "";
        throw new BadInputException("unknown backend '" + spec + "'; available: auto, " + String.join(", ", names) + hint);
    }
}
