package kravsak;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.message.BinaryMessageEncoder;

/**
 * Apache Avro's Java answers that kravsak's tests compare the Python codec with (a test oracle:
 * nothing in kravsak itself runs Java for Avro). One JVM per call.
 *
 * <pre>
 * fingerprint SCHEMA...       canonical form and CRC-64-AVRO of each schema (a file, or else JSON text)
 * encode SCHEMA DATUM_JSON    single-object encoding (BinaryMessageEncoder) of an Avro-JSON datum
 * </pre>
 *
 * <p>{@code fingerprint} prints one tab-separated line per schema: the 8 fingerprint bytes little-endian
 * as hex, {@code parsingFingerprint64} as a signed long, the Parsing Canonical Form. Exit 2 on an
 * unreadable schema or bad usage.
 */
public final class AvroReference {
  private AvroReference() {
  }

  public static void main(String[] args) {
    System.exit(run(args, System.out));
  }

  static int run(String[] args, PrintStream out) {
    try {
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
      System.err.println("usage: AvroReference fingerprint SCHEMA... | encode SCHEMA DATUM_JSON");
      return 2;
    } catch (IOException | RuntimeException e) {
      System.err.println("avro-reference: " + e);
      return 2;
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
