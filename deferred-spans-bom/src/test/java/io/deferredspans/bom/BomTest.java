package io.deferredspans.bom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import javax.lang.model.SourceVersion;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * Keeps the BOM honest: it must list every module the build publishes and nothing else, and what is
 * published must be the BOM alone, without what it inherits from the build's parent POM.
 *
 * <p>Reads the POMs as files. A module counts as published when its packaging is {@code jar} and it
 * does not set {@code maven.deploy.skip} to {@code true}, the one switch the parent POM ties sources,
 * Javadoc and the release upload to.
 */
class BomTest {

  private static final String GROUP_ID = "io.deferredspans";
  private static final String ARTIFACT_PREFIX = "deferred-spans-";
  // Surefire runs with the module directory as the working directory.
  private static final Path BOM_DIR = Path.of("").toAbsolutePath();
  private static final Path ROOT = BOM_DIR.getParent();

  @Test
  void listsExactlyThePublishedModules() throws Exception {
    Set<String> published =
        modules().stream()
            .filter(Pom::isPublishedJar)
            .map(Pom::artifactId)
            .collect(Collectors.toCollection(TreeSet::new));
    Element bom = Pom.read(BOM_DIR.resolve("pom.xml")).root;

    assertFalse(published.isEmpty());
    assertEquals(published, new TreeSet<>(managedArtifactIds(bom)));
    for (Element dependency : managedDependencies(bom)) {
      assertEquals(GROUP_ID, text(dependency, "groupId"));
      assertEquals("${project.version}", text(dependency, "version"), () -> text(dependency, "artifactId"));
    }
  }

  @Test
  void testSupportIsNeverPublished() throws Exception {
    // Test support (io.deferredspans.testing.*: the OTLP receiver, test-support) is for this build's tests only.
    List<Pom> testSupport = new ArrayList<>();
    for (Pom module : modules()) {
      if (module.property("automatic.module.name").orElse("").startsWith(GROUP_ID + ".testing")) {
        testSupport.add(module);
      }
    }
    assertEquals(
        Set.of(ARTIFACT_PREFIX + "otlp-test-receiver", ARTIFACT_PREFIX + "test-support"),
        testSupport.stream().map(Pom::artifactId).collect(Collectors.toSet()));
    for (Pom module : testSupport) {
      assertFalse(module.isPublishedJar(), () -> module.artifactId() + " is test support but published");
    }
  }

  @Test
  void everyModuleCarriesTheProductPrefix() throws Exception {
    // One prefix for all, as opentelemetry-* and curator-* do: a bare "span-store" in someone's build says nothing.
    for (Pom module : modules()) {
      assertTrue(
          module.artifactId().startsWith(ARTIFACT_PREFIX),
          () -> module.artifactId() + " lacks the " + ARTIFACT_PREFIX + " prefix");
    }
  }

  @Test
  void everyJarNamesItsAutomaticModule() throws Exception {
    Map<String, String> byName = new HashMap<>();
    for (Pom module : modules()) {
      if (!module.packaging().equals("jar")) {
        continue;
      }
      String name = module.property("automatic.module.name").orElse("");
      assertTrue(
          name.startsWith(GROUP_ID + ".") && isModuleName(name),
          module.artifactId() + " sets no valid automatic.module.name: \"" + name + "\"");
      String other = byName.put(name, module.artifactId());
      assertEquals(null, other, () -> name + " is used by " + other + " and " + module.artifactId());
    }
  }

  @Test
  void publishedBomCarriesNothingFromTheParent() throws Exception {
    Path flattened = BOM_DIR.resolve("target/.flattened-pom.xml");
    assertTrue(
        Files.exists(flattened),
        "no " + flattened + ": run through Maven, whose flatten plugin writes it before the tests");
    Element bom = Pom.read(flattened).root;
    String version = text(Pom.read(ROOT.resolve("pom.xml")).root, "version");

    for (String inherited : List.of("parent", "properties", "dependencies", "build", "profiles")) {
      assertTrue(child(bom, inherited).isEmpty(), () -> "published BOM has <" + inherited + ">");
    }
    assertEquals("pom", text(bom, "packaging"));
    assertEquals(
        new TreeSet<>(managedArtifactIds(Pom.read(BOM_DIR.resolve("pom.xml")).root)),
        new TreeSet<>(managedArtifactIds(bom)));
    // With no parent, ${project.version} can only mean the BOM's own version, which it states.
    assertEquals(version, text(bom, "version"));
    for (Element dependency : managedDependencies(bom)) {
      assertTrue(
          Set.of(version, "${project.version}").contains(text(dependency, "version")),
          () -> text(dependency, "artifactId") + " at " + text(dependency, "version"));
    }
    // Maven Central refuses a POM without these; the BOM gets them from the parent.
    for (String required : List.of("name", "description", "url", "licenses", "developers", "scm")) {
      assertTrue(child(bom, required).isPresent(), () -> "published BOM lacks <" + required + ">");
    }
    assertEquals("https://github.com/deferred-spans/deferred-spans", text(bom, "url"));
  }

  private static List<Pom> modules() throws Exception {
    Element root = Pom.read(ROOT.resolve("pom.xml")).root;
    List<Pom> modules = new ArrayList<>();
    for (Element module : children(child(root, "modules").orElseThrow(), "module")) {
      modules.add(Pom.read(ROOT.resolve(module.getTextContent().trim()).resolve("pom.xml")));
    }
    return modules;
  }

  private static List<Element> managedDependencies(Element pom) {
    return child(pom, "dependencyManagement")
        .flatMap(m -> child(m, "dependencies"))
        .map(d -> children(d, "dependency"))
        .orElse(List.of());
  }

  private static List<String> managedArtifactIds(Element pom) {
    return managedDependencies(pom).stream().map(d -> text(d, "artifactId")).toList();
  }

  private static boolean isModuleName(String name) {
    for (String part : name.split("\\.", -1)) {
      if (!SourceVersion.isIdentifier(part) || SourceVersion.isKeyword(part)) {
        return false;
      }
    }
    return true;
  }

  private static String text(Element parent, String name) {
    return child(parent, name).map(e -> e.getTextContent().trim()).orElse("");
  }

  private static Optional<Element> child(Element parent, String name) {
    return children(parent, name).stream().findFirst();
  }

  private static List<Element> children(Element parent, String name) {
    List<Element> found = new ArrayList<>();
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element e && e.getTagName().equals(name)) {
        found.add(e);
      }
    }
    return found;
  }

  /** One POM file, read as written: no inheritance, no interpolation. */
  private record Pom(Element root) {
    static Pom read(Path file) throws Exception {
      DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
      factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
      return new Pom(factory.newDocumentBuilder().parse(file.toFile()).getDocumentElement());
    }

    String artifactId() {
      return text(root, "artifactId");
    }

    String packaging() {
      String packaging = text(root, "packaging");
      return packaging.isEmpty() ? "jar" : packaging;
    }

    Optional<String> property(String name) {
      return child(root, "properties").flatMap(p -> child(p, name)).map(e -> e.getTextContent().trim());
    }

    boolean isPublishedJar() {
      return packaging().equals("jar") && !property("maven.deploy.skip").orElse("false").equals("true");
    }
  }
}
