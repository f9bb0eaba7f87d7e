"""The demo: a simulated year of a collection office, end to end (`kravsak demo`)."""
