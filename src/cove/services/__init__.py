"""AWS services: each a thin provider over service functions with explicit DB sessions."""
