"""What every resource of the API shares: domain errors, request schemas, row → JSON shapes, the handler context."""
