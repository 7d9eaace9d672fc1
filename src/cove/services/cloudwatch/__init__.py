"""CloudWatch metrics: PutMetricData, GetMetricStatistics, GetMetricData, ListMetrics (API in
provider.py, Cove's own producers' entry point in service.py)."""
