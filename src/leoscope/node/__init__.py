"""The node agent: runs scheduled experiments on a measurement node."""
