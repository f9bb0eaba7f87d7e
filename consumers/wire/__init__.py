"""The wire format: Avro codec, event envelope, schema generation and the compatibility gate."""
