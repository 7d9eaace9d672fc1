"""CloudWatch Logs: log groups, streams and events (API in provider.py, producers' API in service.py)."""
