"""What stands in for a value a reader may not see: payload values for viewers, metadata values,
secrets in log lines."""

MASK = "***"
