"""One module or folder per flow: the workflow that takes a batch through the domain rules and the
clients, each external effect exactly once. Services take clients and an engine; assets and sensors
only call them."""
