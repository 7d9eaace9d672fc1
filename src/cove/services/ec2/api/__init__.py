"""EC2 operation handlers, one module per resource family (thin: they call the service modules)."""
