"""Fixtures and helpers the tests share: sample events, golden Avro bytes, Apache Avro's Java answers,
and the PostgreSQL/Kafka set-up of the integration tests. Nothing outside ``tests/`` imports them."""
