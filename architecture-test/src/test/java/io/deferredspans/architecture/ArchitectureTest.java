package io.deferredspans.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The module rules, checked on the compiled main classes of every module (and the test classes of the modules that
 * are nothing but tests): which way dependencies may run, and that nobody reaches into code that is not for them.
 */
class ArchitectureTest {

  static final String SDK = "io.deferredspans.sdk..";
  static final String STORE = "io.deferredspans.store..";
  static final String JSON_LINES = "io.deferredspans.otlp.json..";
  /** The library modules' hooks into each other ({@code io.deferredspans.sdk.internal}, and any to come). */
  static final String INTERNAL = "io.deferredspans..internal..";
  /**
   * The benchmarks measure the store's own steps (finish, encode, export) one at a time, which no user can take:
   * they are the one module besides the libraries that may use internal packages.
   */
  static final String BENCHMARKS = "io.deferredspans.benchmarks..";
  /** Modules that hold nothing but tests, built on the library the way a user's code would be: their packages. */
  static final Map<String, String> TEST_ONLY_MODULES =
      Map.of("javaagent-test", "io.deferredspans.javaagent", "cross-language-test", "io.deferredspans.crosslanguage");
  /** The test-support module (its package only: the OTLP test receiver, below it, reads with otlp-json-lines). */
  static final String TEST_SUPPORT = "io.deferredspans.testing";

  private static JavaClasses mainClasses;
  private static JavaClasses testOnlyModuleClasses;

  @BeforeAll
  static void importClasses() {
    mainClasses =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.deferredspans");
    // Surefire runs with the module directory as the working directory. The root pom declares these modules
    // before this one, so a build of all of them (or of a -pl list naming them) compiles their tests first.
    Path root = Path.of("").toAbsolutePath().getParent();
    List<Path> testClasses = new ArrayList<>();
    TEST_ONLY_MODULES.keySet().forEach(module -> testClasses.add(root.resolve(module).resolve("target/test-classes")));
    testOnlyModuleClasses = new ClassFileImporter().importPaths(testClasses);
    TEST_ONLY_MODULES.forEach((module, pkg) -> {
      if (!testOnlyModuleClasses.containPackage(pkg)) {
        throw new IllegalStateException("read no test classes of " + module + " (" + pkg + ") from " + root
            + "/" + module + "/target/test-classes: build them first (mvn -pl " + module + " test-compile), or name"
            + " the module in this build's -pl list");
      }
    });
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
  void nothingOutsideTheLibraryModulesUsesInternalPackages() {
    noClasses()
        .that()
        .resideOutsideOfPackages(SDK, STORE, BENCHMARKS)
        .should()
        .dependOnClassesThat()
        .resideInAPackage(INTERNAL)
        .because("internal packages are the libraries' hooks into each other, not for users; the demos, the CLI"
            + " and the OTLP modules show what a user can do")
        .check(mainClasses);
  }

  @Test
  void theTestOnlyModulesUseOnlyPublicApi() {
    noClasses()
        .should()
        .dependOnClassesThat()
        .resideInAPackage(INTERNAL)
        .because("the Java agent and cross-language tests run the library as an application would")
        .check(testOnlyModuleClasses);
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
