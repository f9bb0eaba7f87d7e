"""Kafka for the local stack: jars by Maven (jars.py), a single-node KRaft broker (broker.py)."""

from kravsak.stack.kafka.broker import ExternalKafka, LocalKafka, broker_answers

__all__ = ["ExternalKafka", "LocalKafka", "broker_answers"]
