"""The `leoscope` command line: a thin layer over `leoscope.client` (one module per group)."""
