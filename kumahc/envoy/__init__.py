"""Envoy message builders shared by every policy family (xds-protos messages, never hand-built JSON)."""
