package io.deferredspans.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The module rules, checked on the compiled main classes of every module: which way dependencies may run, and that
 * nobody reaches into code that is not for them.
 */
class ArchitectureTest {

  static final String SDK = "io.deferredspans.sdk..";
  static final String STORE = "io.deferredspans.store..";
  static final String JSON_LINES = "io.deferredspans.otlp.json..";
  /** The test-support module (its package only: the OTLP test receiver, below it, reads with otlp-json-lines). */
  static final String TEST_SUPPORT = "io.deferredspans.testing";
  /** Code built on the library the way a user's would be: it may use only what a user may. */
  static final String[] LIBRARY_USERS = {"io.deferredspans.demo..", "io.deferredspans.cli.."};

  private static JavaClasses mainClasses;

  @BeforeAll
  static void importMainClasses() {
    mainClasses =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.deferredspans");
  }

  @Test
  void sdkExtensionsNeverDependOnTheStoreOrZooKeeper() {
    noClasses()
        .that()
        .resideInAPackage(SDK)
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(STORE, "org.apache.zookeeper..", "org.apache.curator..")
        .because("span-sdk-extensions is usable without ZooKeeper (the Java agent test keeps a record in a file)")
        .check(mainClasses);
  }

  @Test
  void publishedLibrariesNeverDependOnDemosToolsOrTestSupport() {
    noClasses()
        .that()
        .resideInAnyPackage(SDK, STORE, JSON_LINES)
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "io.deferredspans.demo..",
            "io.deferredspans.cli..",
            "io.deferredspans.testing..",
            "io.deferredspans.benchmarks..")
        .check(mainClasses);
  }

  @Test
  void testSupportDependsOnNoModuleOfThisBuild() {
    noClasses()
        .that()
        .resideInAPackage(TEST_SUPPORT)
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(SDK, STORE, JSON_LINES, "io.deferredspans.demo..", "io.deferredspans.cli..",
            "io.deferredspans.benchmarks..")
        .because("every module's tests use test-support, the SDK's included: it must sit below all of them")
        .check(mainClasses);
  }

  @Test
  void demosAndTheCommandLineUseOnlyPublicApi() {
    noClasses()
        .that()
        .resideInAnyPackage(LIBRARY_USERS)
        .should()
        .dependOnClassesThat()
        .resideInAPackage("io.deferredspans..internal..")
        .because("the demos and the CLI show what a user can do; internal packages are not for users")
        .check(mainClasses);
  }

  @Test
  void noMainCodeUsesOpenTelemetryInternals() {
    noClasses()
        .should()
        .dependOnClassesThat()
        .resideInAPackage("io.opentelemetry..internal..")
        .because("OpenTelemetry's internal packages change without notice and artifacts that hold them vanish")
        .check(mainClasses);
  }
}
