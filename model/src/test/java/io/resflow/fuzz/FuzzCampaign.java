package io.resflow.fuzz;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Runs one fuzz test method through the JUnit Platform, as Maven does: {@code FuzzCampaign <class>#<method>}. With
 * {@code JAZZER_FUZZ=1} in the environment Jazzer fuzzes it (for {@code jazzer.max_duration}); without, it runs the
 * regression inputs. Prints every failure's message and exits 1 when one failed, 0 otherwise.
 */
public final class FuzzCampaign {
    private FuzzCampaign() {
    }

    public static void main(String[] args) {
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request().selectors(selectMethod(args[0])).build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        launcher.execute(request, listener);
        TestExecutionSummary s = listener.getSummary();
        for (TestExecutionSummary.Failure f : s.getFailures()) {
            Throwable t = f.getException();
            StringBuilder sb = new StringBuilder();
            for (Throwable c = t; c != null; c = c.getCause()) {
                sb.append(c.getClass().getName()).append(": ").append(c.getMessage()).append(" | ");
            }
            System.out.println("FAILED " + f.getTestIdentifier().getDisplayName() + ": " + sb);
        }
        System.out.println("tests found " + s.getTestsFoundCount() + ", succeeded " + s.getTestsSucceededCount()
                + ", failed " + s.getTestsFailedCount());
        System.exit(s.getTestsFailedCount() > 0 ? 1 : 0);
    }
}
