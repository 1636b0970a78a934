"""viz: drawings of tinygrad-lite graphs. Reads the engine only through
`tinygrad_lite.graph.export_graph`."""
