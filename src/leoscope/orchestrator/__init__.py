"""The orchestrator: the testbed's gRPC service and its datastore."""
