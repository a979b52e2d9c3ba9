package io.resflow.cli.options;

import io.resflow.engine.Backend;
import io.resflow.engine.Backends;
import picocli.CommandLine.Option;

/**
 * {@code -b/--backend}: where a command runs, as a mixin in the three forms the commands need: with a default
 * ({@link Defaulted}: generate, check), required ({@link Required}: validate), or overriding a run config's backend
 * ({@link OverConfig}: run, ablation). One vocabulary and one resolution ({@link Backends#resolve}) for all; the forms
 * differ only in their picocli annotation, which a field cannot change per command.
 */
public abstract sealed class BackendOption {
    /** The backend specs every form accepts, for help texts. */
    public static final String SPECS = "reference, jvm, tornado, tornado:<driver>:<device> or auto (a TornadoVM GPU "
            + "when one is present, else jvm, else reference)";

    /** The spec as given (or defaulted); null when a {@link OverConfig} was not given. */
    public abstract String spec();

    /** The backend the spec names (exit 2 naming the spec when there is none). */
    public Backend resolve() {
        return Backends.resolve(spec());
    }

    /** With a default that the command chooses ({@code new BackendOption.Defaulted("auto")}). */
    public static final class Defaulted extends BackendOption {
        @Option(names = {"-b", "--backend"}, paramLabel = "BACKEND",
                description = "Where to run: " + SPECS + " (default: ${DEFAULT-VALUE}).")
        String spec;

        public Defaulted(String defaultSpec) {
            this.spec = defaultSpec;
        }

        @Override
        public String spec() {
            return spec;
        }
    }

    /** A backend the user must name: the one validate compares with the reference. */
    public static final class Required extends BackendOption {
        @Option(names = {"-b", "--backend"}, paramLabel = "BACKEND", required = true,
                description = "The backend to compare with the reference: " + SPECS + ".")
        String spec;

        @Override
        public String spec() {
            return spec;
        }
    }

    /** Overrides the backend of a run config (or of a run being resumed) when given. */
    public static final class OverConfig extends BackendOption {
        @Option(names = {"-b", "--backend"}, paramLabel = "BACKEND",
                description = "Overrides the config's backend: " + SPECS + ".")
        String spec;

        @Override
        public String spec() {
            return spec;
        }

        /** The spec given, else {@code configured} (the config's or the checkpoint's). */
        public String or(String configured) {
            return spec != null ? spec : configured;
        }
    }
}
