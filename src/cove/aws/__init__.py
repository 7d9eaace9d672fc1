"""The generic AWS wire layer driven by botocore models."""
