package io.resflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The runner's rooms keep to their doors: every package under src/main/java has a package-info.java whose
 * "May import:" line lists the io.resflow packages its classes may name, and no class names another one.
 */
class LayoutTest {
    private static final Path SRC = Path.of("src/main/java");
    private static final Pattern MAY_IMPORT = Pattern.compile("May import:\\s*([^\\n]*(?:\\n\\s*\\*\\s*io\\.[^\\n]*)*)");
    /** A reference to a type: lower-case package segments, then the capitalised type name. */
    private static final Pattern TYPE_REF = Pattern.compile("\\bio\\.resflow((?:\\.[a-z][a-z0-9]*)+)\\.[A-Z]");

    @Test
    void everyPackageSaysWhatItHoldsAndImportsOnlyWhatItSays() throws IOException {
        List<String> problems = new ArrayList<>();
        List<Path> dirs;
        try (Stream<Path> s = Files.walk(SRC)) {
            dirs = s.filter(Files::isDirectory).filter(LayoutTest::holdsJava).sorted().toList();
        }
        assertTrue(dirs.size() >= 10, "expected the runner's packages under " + SRC.toAbsolutePath() + ", found " + dirs);
        for (Path dir : dirs) {
            String pkg = SRC.relativize(dir).toString().replace('/', '.');
            Path info = dir.resolve("package-info.java");
            if (!Files.exists(info)) {
                problems.add(pkg + ": no package-info.java");
                continue;
            }
            Set<String> allowed = allowed(Files.readString(info), pkg, problems);
            if (allowed == null) {
                continue; // the top of the tree: may name every package
            }
            allowed.add(pkg);
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
                    for (String used : referencedPackages(Files.readString(f))) {
                        if (!allowed.contains(used)) {
                            problems.add(SRC.relativize(f) + " names " + used + ", not in its package-info's May import");
                        }
                    }
                }
            }
        }
        assertEquals(List.of(), problems);
    }

    @Test
    void theCommandPackageStaysSmall() throws IOException {
        try (Stream<Path> s = Files.list(SRC.resolve("io/resflow/cli"))) {
            long n = s.filter(p -> p.toString().endsWith(".java")).count();
            assertTrue(n <= 12, "io/resflow/cli holds " + n + " .java files; at most 12 (group commands or mixins in sub-packages)");
        }
    }

    @Test
    void theRuleFindsAReferenceItForbids() {
        // the checker itself: a qualified name and an import both count, a comment does not
        String code = "package io.resflow.data;\n// io.resflow.cli.Main in a comment\nimport io.resflow.out.Json;\n"
                + "class X { Object o = io.resflow.cli.Main.class; }\n";
        assertEquals(Set.of("io.resflow.out", "io.resflow.cli"), referencedPackages(code));
    }

    private static boolean holdsJava(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(p -> p.toString().endsWith(".java"));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The packages a package-info's "May import:" line lists; null for "every io.resflow package". */
    private static Set<String> allowed(String info, String pkg, List<String> problems) {
        Matcher m = MAY_IMPORT.matcher(info);
        Set<String> out = new TreeSet<>();
        if (!m.find()) {
            problems.add(pkg + ": package-info.java has no \"May import:\" line");
            return out;
        }
        String list = m.group(1).replaceAll("\\n\\s*\\*", " ");
        if (list.startsWith("every io.resflow package")) {
            return null;
        }
        for (String p : list.split("[,\\s]+")) {
            String name = p.replaceAll("[.]$", "");
            if (name.startsWith("io.resflow")) {
                out.add(name);
            }
        }
        return out;
    }

    /** The io.resflow packages a source file names outside comments, its own package line left out. */
    static Set<String> referencedPackages(String code) {
        String body = code.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\\n]*", " ")
                .replaceFirst("(?m)^package [^;]+;", " ");
        Set<String> out = new TreeSet<>();
        Matcher m = TYPE_REF.matcher(body);
        while (m.find()) {
            out.add("io.resflow" + m.group(1));
        }
        return out;
    }
}
