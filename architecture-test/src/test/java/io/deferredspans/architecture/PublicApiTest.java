package io.deferredspans.architecture;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Keeps the published API surface in a checked-in list, {@code docs/public-api.txt}, so that a change to what users
 * can call shows up in review as a change to that file. The list holds every public type of the published modules
 * outside {@code internal} packages, with its public members (and protected ones where a user can subclass).
 *
 * <p>After an intended change, rewrite the list and commit it with the change:
 *
 * <pre>
 * mvn -B -pl architecture-test -am verify -Dtest=PublicApiTest -Dsurefire.failIfNoSpecifiedTests=false -Dapi.update=true
 * </pre>
 */
class PublicApiTest {

  private static final List<String> PUBLISHED_PACKAGES =
      List.of("io.deferredspans.sdk", "io.deferredspans.store", "io.deferredspans.otlp.json");
  // Surefire runs with the module directory as the working directory.
  private static final Path API_FILE = Path.of("").toAbsolutePath().getParent().resolve("docs/public-api.txt");
  private static final String UPDATE_COMMAND =
      "mvn -B -pl architecture-test -am verify -Dtest=PublicApiTest -Dsurefire.failIfNoSpecifiedTests=false"
          + " -Dapi.update=true";

  @Test
  void publishedApiMatchesTheCheckedInList() throws Exception {
    List<String> actual = apiSurface();
    assertTrue(actual.size() > 10, "found almost no API: are the published modules on the test classpath?");
    if (Boolean.getBoolean("api.update")) {
      Files.write(API_FILE, actual, StandardCharsets.UTF_8);
      return;
    }
    List<String> expected = Files.exists(API_FILE) ? Files.readAllLines(API_FILE, StandardCharsets.UTF_8) : List.of();
    if (!expected.equals(actual)) {
      Set<String> added = new LinkedHashSet<>(actual);
      expected.forEach(added::remove);
      Set<String> removed = new LinkedHashSet<>(expected);
      actual.forEach(removed::remove);
      fail(
          "the published API differs from docs/public-api.txt. If the change is intended, rewrite the list with\n  "
              + UPDATE_COMMAND
              + "\nand commit it.\nadded:\n"
              + indent(added)
              + "removed:\n"
              + indent(removed));
    }
  }

  private static List<String> apiSurface() {
    List<String> lines = new ArrayList<>();
    lines.add("# The published API of Deferred Spans: every public type outside internal packages, with its public");
    lines.add("# (and, where a user can subclass, protected) members. Written by PublicApiTest; see its Javadoc.");
    new ClassFileImporter()
        .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages(PUBLISHED_PACKAGES).stream()
        .filter(c -> PUBLISHED_PACKAGES.contains(c.getPackageName()))
        .map(JavaClass::reflect)
        .filter(PublicApiTest::isVisibleToUsers)
        .sorted((a, b) -> a.getName().compareTo(b.getName()))
        .forEach(type -> describe(type, lines));
    return lines;
  }

  private static boolean isVisibleToUsers(Class<?> type) {
    for (Class<?> c = type; c != null; c = c.getEnclosingClass()) {
      if (!Modifier.isPublic(c.getModifiers()) || c.isAnonymousClass() || c.isSynthetic()) {
        return false;
      }
    }
    return true;
  }

  private static void describe(Class<?> type, List<String> lines) {
    lines.add("");
    lines.add(header(type));
    boolean subclassable = !Modifier.isFinal(type.getModifiers()) && !type.isEnum() && !type.isRecord();
    Set<String> members = new TreeSet<>();
    Stream.of(type.getDeclaredConstructors(), type.getDeclaredMethods(), type.getDeclaredFields())
        .flatMap(Arrays::stream)
        .filter(m -> !m.isSynthetic() && !(m instanceof Method method && method.isBridge()))
        .filter(m -> Modifier.isPublic(m.getModifiers()) || (subclassable && Modifier.isProtected(m.getModifiers())))
        .filter(m -> !(type.isEnum() && isEnumBoilerplate(m)))
        .map(m -> "  " + signature(type, m))
        .forEach(members::add);
    lines.addAll(members);
  }

  private static String header(Class<?> type) {
    StringBuilder header = new StringBuilder(type.toGenericString());
    Type superclass = type.getGenericSuperclass();
    if (superclass != null && superclass != Object.class && !type.isEnum() && !type.isRecord()) {
      header.append(" extends ").append(superclass.getTypeName());
    }
    Type[] interfaces = type.getGenericInterfaces();
    if (interfaces.length > 0) {
      header
          .append(type.isInterface() ? " extends " : " implements ")
          .append(Arrays.stream(interfaces).map(Type::getTypeName).collect(Collectors.joining(", ")));
    }
    return header.toString();
  }

  private static String signature(Class<?> type, Member member) {
    String generic =
        member instanceof Method m
            ? m.toGenericString()
            : member instanceof Field f ? f.toGenericString() : ((Constructor<?>) member).toGenericString();
    // Members name their declaring class before their own name; the header already says it.
    return member instanceof Constructor<?> ? generic : generic.replace(" " + type.getName() + ".", " ");
  }

  /** values(), valueOf(String) and $VALUES every enum has. */
  private static boolean isEnumBoilerplate(Member member) {
    if (member instanceof Method m) {
      return (m.getName().equals("values") && m.getParameterCount() == 0)
          || (m.getName().equals("valueOf") && Arrays.equals(m.getParameterTypes(), new Class<?>[] {String.class}));
    }
    return false;
  }

  private static String indent(Set<String> lines) {
    return lines.stream().map(l -> "  " + l + "\n").collect(Collectors.joining());
  }
}
