package kravsak;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.Incompatibility;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.message.BinaryMessageEncoder;

/**
 * Apache Avro's own schema checks for kravsak, run in one JVM per call.
 *
 * <pre>
 * check [--tsv] SCHEMAS_DIR   FULL_TRANSITIVE gate over SCHEMAS_DIR (layout below)
 * fingerprint SCHEMA...       CRC-64-AVRO of each schema (a file, or else JSON text)
 * encode SCHEMA DATUM_JSON    single-object encoding (BinaryMessageEncoder) of an Avro-JSON datum
 * </pre>
 *
 * <p>Layout: {@code SCHEMAS_DIR/<Event>.avsc} is the current schema of an event type,
 * {@code SCHEMAS_DIR/history/<Event>/v1.avsc, v2.avsc, ...} its released versions, numbered from 1
 * without gaps. A current schema equal ({@link Schema#equals}) to the newest history file is that
 * version; one that differs is the next, unreleased version, labelled "current". Every version is
 * checked against every earlier one in both directions: "backward" (the newer schema reads data
 * written with the older one) and "forward" (the older schema reads data written with the newer).
 *
 * <p>Exit codes: 0 all compatible, 1 incompatibilities found, 2 unreadable schema, bad layout or
 * bad usage. With {@code --tsv} each finding is one tab-separated line:
 * {@code INCOMPATIBLE schema reader_version writer_version direction field type location message}
 * or {@code ERROR path message}.
 */
public final class AvroCompat {
  private static final Pattern VERSION_FILE = Pattern.compile("v([1-9][0-9]*)\\.avsc");
  private static final String CURRENT = "current";

  private AvroCompat() {
  }

  public static void main(String[] args) {
    System.exit(run(args, System.out));
  }

  static int run(String[] args, PrintStream out) {
    try {
      if (args.length >= 2 && args[0].equals("check")) {
        boolean tsv = args[1].equals("--tsv");
        if (args.length != (tsv ? 3 : 2)) {
          return usage();
        }
        return check(Paths.get(args[args.length - 1]), tsv, out);
      }
      if (args.length >= 2 && args[0].equals("fingerprint")) {
        for (int i = 1; i < args.length; i++) {
          Schema schema = parseArgument(args[i]);
          long fp = SchemaNormalization.parsingFingerprint64(schema);
          out.println(hex(littleEndian(fp)) + "\t" + fp + "\t" + SchemaNormalization.toParsingForm(schema));
        }
        return 0;
      }
      if (args.length == 3 && args[0].equals("encode")) {
        Schema schema = parseArgument(args[1]);
        String json = Files.readString(Paths.get(args[2]), StandardCharsets.UTF_8);
        GenericDatumReader<Object> reader = new GenericDatumReader<>(schema);
        Object datum = reader.read(null,
            org.apache.avro.io.DecoderFactory.get().jsonDecoder(schema, json));
        ByteBuffer encoded = new BinaryMessageEncoder<Object>(GenericData.get(), schema).encode(datum);
        byte[] bytes = new byte[encoded.remaining()];
        encoded.get(bytes);
        out.println(hex(bytes));
        return 0;
      }
      return usage();
    } catch (IOException | RuntimeException e) {
      System.err.println("avro-compat: " + e);
      return 2;
    }
  }

  private static int usage() {
    System.err.println("usage: AvroCompat check [--tsv] SCHEMAS_DIR | fingerprint SCHEMA... | encode SCHEMA DATUM_JSON");
    return 2;
  }

  // ---------------------------------------------------------------------------------------------
  // The gate

  private record Version(String label, Path path, Schema schema) {
  }

  private static int check(Path dir, boolean tsv, PrintStream out) throws IOException {
    if (!Files.isDirectory(dir)) {
      error(out, tsv, dir, "not a directory");
      return 2;
    }
    List<String> errors = new ArrayList<>();
    Map<String, List<Version>> events = new TreeMap<>();

    Path historyRoot = dir.resolve("history");
    if (Files.isDirectory(historyRoot)) {
      for (Path eventDir : list(historyRoot)) {
        if (!Files.isDirectory(eventDir)) {
          errors.add(eventDir + "\tonly folders named after an event type belong in history/");
          continue;
        }
        TreeMap<Integer, Path> numbered = new TreeMap<>();
        for (Path file : list(eventDir)) {
          Matcher m = VERSION_FILE.matcher(file.getFileName().toString());
          if (m.matches()) {
            numbered.put(Integer.parseInt(m.group(1)), file);
          } else {
            errors.add(file + "\tversion files are named v1.avsc, v2.avsc, ...");
          }
        }
        List<Version> versions = new ArrayList<>();
        int expected = 1;
        for (Map.Entry<Integer, Path> e : numbered.entrySet()) {
          if (e.getKey() != expected) {
            errors.add(eventDir + "\tversion v" + expected + " is missing (versions are numbered from 1 without gaps)");
          }
          expected = e.getKey() + 1;
          Schema schema = parseFile(e.getValue(), errors);
          if (schema != null) {
            versions.add(new Version("v" + e.getKey(), e.getValue(), schema));
          }
        }
        events.put(eventDir.getFileName().toString(), versions);
      }
    }

    for (Path file : list(dir)) {
      String fileName = file.getFileName().toString();
      if (!Files.isRegularFile(file) || !fileName.endsWith(".avsc")) {
        continue;
      }
      String event = fileName.substring(0, fileName.length() - ".avsc".length());
      Schema schema = parseFile(file, errors);
      if (schema == null) {
        continue;
      }
      List<Version> versions = events.computeIfAbsent(event, k -> new ArrayList<>());
      if (versions.isEmpty() || !versions.get(versions.size() - 1).schema().equals(schema)) {
        versions.add(new Version(CURRENT, file, schema));
      }
    }

    int incompatibilities = 0;
    for (Map.Entry<String, List<Version>> e : events.entrySet()) {
      List<Version> versions = e.getValue();
      for (int newer = 1; newer < versions.size(); newer++) {
        for (int older = 0; older < newer; older++) {
          incompatibilities += report(out, tsv, e.getKey(), versions.get(newer), versions.get(older), "backward");
          incompatibilities += report(out, tsv, e.getKey(), versions.get(older), versions.get(newer), "forward");
        }
      }
    }
    for (String error : errors) {
      String[] parts = error.split("\t", 2);
      error(out, tsv, Paths.get(parts[0]), parts[1]);
    }
    return !errors.isEmpty() ? 2 : incompatibilities > 0 ? 1 : 0;
  }

  private static int report(PrintStream out, boolean tsv, String event, Version reader, Version writer,
      String direction) {
    List<Incompatibility> found = SchemaCompatibility
        .checkReaderWriterCompatibility(reader.schema(), writer.schema())
        .getResult()
        .getIncompatibilities();
    for (Incompatibility inc : found) {
      String field = fieldPath(reader.schema(), writer.schema(), inc.getLocation());
      String message = oneLine(inc.getMessage());
      if (tsv) {
        out.println(String.join("\t", "INCOMPATIBLE", event, reader.label(), writer.label(), direction, field,
            inc.getType().name(), inc.getLocation(), message));
      } else {
        String what = field.isEmpty() ? "the record itself" : "field '" + field + "'";
        out.println(event + ": " + reader.label() + " cannot read data written with " + writer.label() + " ("
            + direction + "): " + what + " - " + inc.getType() + " at " + inc.getLocation() + ": " + message);
      }
    }
    return found.size();
  }

  /**
   * Maps the checker's JSON pointer (into the reader schema; a number after a union step picks the
   * writer's branch) to a dotted field path: "amount", "debtor.address.street", "lines[].amount".
   * Empty when the incompatibility is about the top-level record (its name, say).
   */
  static String fieldPath(Schema reader, Schema writer, String location) {
    StringBuilder path = new StringBuilder();
    Schema r = reader;
    Schema w = writer;
    Schema.Field readerField = null;
    Schema.Field writerField = null;
    List<String> tokens = pointerTokens(location);
    try {
      for (int i = 0; i < tokens.size(); i++) {
        String token = tokens.get(i);
        switch (token) {
          case "fields" -> {
            readerField = r.getFields().get(Integer.parseInt(tokens.get(++i)));
            writerField = w.getType() == Schema.Type.RECORD ? SchemaCompatibility.lookupWriterField(w, readerField)
                : null;
            if (path.length() > 0 && path.charAt(path.length() - 1) != '.') {
              path.append('.');
            }
            path.append(readerField.name());
          }
          case "type" -> {
            r = readerField.schema();
            w = writerField != null ? writerField.schema() : w;
          }
          case "items" -> {
            r = r.getElementType();
            w = w.getElementType();
            path.append("[]");
          }
          case "values" -> {
            r = r.getValueType();
            w = w.getValueType();
            path.append("{}");
          }
          case "name", "size", "symbols" -> {
            return path.toString();
          }
          default -> {
            if (w.getType() == Schema.Type.UNION) {
              w = w.getTypes().get(Integer.parseInt(token));
            }
          }
        }
      }
    } catch (RuntimeException e) {
      // An unexpected pointer shape: the field found so far is still the best answer.
    }
    return path.toString();
  }

  private static List<String> pointerTokens(String pointer) {
    List<String> tokens = new ArrayList<>();
    for (String raw : pointer.split("/")) {
      if (!raw.isEmpty()) {
        tokens.add(raw.replace("~1", "/").replace("~0", "~"));
      }
    }
    return tokens;
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private static Schema parseFile(Path file, List<String> errors) {
    try {
      return new Schema.Parser().parse(file.toFile());
    } catch (IOException | RuntimeException e) {
      errors.add(file + "\t" + oneLine(e.getMessage() == null ? e.toString() : e.getMessage()));
      return null;
    }
  }

  /** A path to a schema file, or else the schema's JSON text itself (e.g. {@code "int"}). */
  private static Schema parseArgument(String arg) throws IOException {
    Path path = Paths.get(arg);
    if (Files.isRegularFile(path)) {
      return new Schema.Parser().parse(path.toFile());
    }
    return new Schema.Parser().parse(arg);
  }

  private static List<Path> list(Path dir) throws IOException {
    try (Stream<Path> entries = Files.list(dir)) {
      return entries.sorted().toList();
    }
  }

  private static void error(PrintStream out, boolean tsv, Path path, String message) {
    out.println(tsv ? "ERROR\t" + path + "\t" + oneLine(message) : path + ": " + oneLine(message));
  }

  private static String oneLine(String text) {
    return text.replaceAll("[\\t\\r\\n]+", " ").trim();
  }

  private static byte[] littleEndian(long value) {
    return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array();
  }

  private static String hex(byte[] bytes) {
    StringBuilder s = new StringBuilder(bytes.length * 2);
    for (byte b : bytes) {
      s.append(String.format("%02x", b));
    }
    return s.toString();
  }
}
