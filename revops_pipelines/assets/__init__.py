"""Software-defined assets, one module per flow, checks beside their assets: thin, they read inputs, call the flow's service and return metadata."""
