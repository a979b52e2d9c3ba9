package io.resflow.tornado;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import uk.ac.manchester.tornado.api.KernelContext;
import uk.ac.manchester.tornado.api.TaskGraph;
import uk.ac.manchester.tornado.api.WorkerGrid;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task3;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task4;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task5;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task6;
import uk.ac.manchester.tornado.api.common.TornadoFunctions.Task7;
import uk.ac.manchester.tornado.api.enums.DataTransferMode;

/**
 * A task graph described before it is built, so the session can work out which device buffers each graph shares with
 * every other graph of the plan.
 *
 * <p>Why: TornadoVM links a graph's buffers to those of the graph executed just before it, and only for the objects
 * the consumer declared with {@code consumeFromDevice(thatGraph, ...)}; an object declared for a graph that does not
 * hold it gets a null buffer, and a predecessor with no declaration at all makes it link every consumed object
 * blindly. So each graph declares, for every graph of the plan, exactly the shared objects both use. Objects that
 * only one graph uses (its argument arrays, per-call inputs and outputs) are its own.
 */
final class GraphSpec {
    final String name;
    private final KernelContext ctx = new KernelContext();
    private final Set<Object> objects = Collections.newSetFromMap(new IdentityHashMap<>());
    private final List<Consumer<TaskGraph>> tasks = new ArrayList<>();
    private final Map<String, WorkerGrid> grids = new LinkedHashMap<>();
    private final List<Object> everyIn = new ArrayList<>();
    private final List<Object> everyOut = new ArrayList<>();
    private final List<Object> underDemand = new ArrayList<>();

    /**
     * @param anchor a shared buffer every graph of the plan declares, so that any two graphs have a declaration for
     *     each other, whatever order they run in
     */
    GraphSpec(String name, Object anchor) {
        this.name = name;
        objects.add(anchor);
    }

    /** Inputs sent with every execution (per-call values: tokens, the layer index, AdamW's lr and step). */
    GraphSpec everyExecution(Object... in) {
        everyIn.addAll(List.of(in));
        return this;
    }

    /** Outputs copied back after every execution (the loss, the gradient norm). */
    GraphSpec toHost(Object... out) {
        everyOut.addAll(List.of(out));
        return this;
    }

    /** Outputs that stay on the device and are copied back only when asked for. */
    GraphSpec onDemand(Object... out) {
        underDemand.addAll(List.of(out));
        objects.addAll(List.of(out));
        return this;
    }

    <A, B> GraphSpec task(String t, WorkerGrid grid, Task3<KernelContext, A, B> f, A a, B b) {
        use(a, b);
        tasks.add(tg -> tg.task(t, f, ctx, a, b));
        grids.put(name + "." + t, grid);
        return this;
    }

    <A, B, C> GraphSpec task(String t, WorkerGrid grid, Task4<KernelContext, A, B, C> f, A a, B b, C c) {
        use(a, b, c);
        tasks.add(tg -> tg.task(t, f, ctx, a, b, c));
        grids.put(name + "." + t, grid);
        return this;
    }

    <A, B, C, D> GraphSpec task(String t, WorkerGrid grid, Task5<KernelContext, A, B, C, D> f, A a, B b, C c, D d) {
        use(a, b, c, d);
        tasks.add(tg -> tg.task(t, f, ctx, a, b, c, d));
        grids.put(name + "." + t, grid);
        return this;
    }

    <A, B, C, D, E> GraphSpec task(String t, WorkerGrid grid, Task6<KernelContext, A, B, C, D, E> f, A a, B b, C c,
            D d, E e) {
        use(a, b, c, d, e);
        tasks.add(tg -> tg.task(t, f, ctx, a, b, c, d, e));
        grids.put(name + "." + t, grid);
        return this;
    }

    <A, B, C, D, E, F> GraphSpec task(String t, WorkerGrid grid, Task7<KernelContext, A, B, C, D, E, F> f, A a, B b,
            C c, D d, E e, F g) {
        use(a, b, c, d, e, g);
        tasks.add(tg -> tg.task(t, f, ctx, a, b, c, d, e, g));
        grids.put(name + "." + t, grid);
        return this;
    }


    private void use(Object... args) {
        objects.addAll(List.of(args));
    }

    Map<String, WorkerGrid> grids() {
        return grids;
    }

    int taskCount() {
        return tasks.size();
    }

    boolean uses(Object o) {
        return objects.contains(o);
    }

    /**
     * Builds the graph. {@code shared} are the buffers owned by the plan's owner graph; {@code all} every graph of the
     * plan (this one included), for the consume declarations.
     */
    TaskGraph build(Set<Object> shared, List<GraphSpec> all, boolean owner) {
        TaskGraph tg = new TaskGraph(name);
        List<Object> own = new ArrayList<>();
        for (Object o : objects) {
            if (!shared.contains(o) && !containsIdentity(everyIn, o) && !containsIdentity(everyOut, o)) {
                own.add(o);
            }
        }
        if (owner) {
            tg.transferToDevice(DataTransferMode.FIRST_EXECUTION, objects.toArray());
        } else {
            if (!own.isEmpty()) {
                tg.transferToDevice(DataTransferMode.FIRST_EXECUTION, own.toArray());
            }
            for (GraphSpec other : all) {
                List<Object> common = new ArrayList<>();
                for (Object o : objects) {
                    if (shared.contains(o) && other.uses(o)) {
                        common.add(o);
                    }
                }
                if (!common.isEmpty()) {
                    tg.consumeFromDevice(other.name, common.toArray());
                }
            }
        }
        if (!everyIn.isEmpty()) {
            tg.transferToDevice(DataTransferMode.EVERY_EXECUTION, everyIn.toArray());
        }
        for (Consumer<TaskGraph> t : tasks) {
            t.accept(tg);
        }
        if (!everyOut.isEmpty()) {
            tg.transferToHost(DataTransferMode.EVERY_EXECUTION, everyOut.toArray());
        }
        if (owner) {
            tg.persistOnDevice(objects.toArray());
        } else if (!underDemand.isEmpty()) {
            tg.persistOnDevice(underDemand.toArray());
        }
        return tg;
    }

    private static boolean containsIdentity(List<Object> list, Object o) {
        for (Object x : list) {
            if (x == o) {
                return true;
            }
        }
        return false;
    }
}
