"""SageMaker: jobs, models and endpoints (the API comes with the jobs issue; the VPC pre-flight is here)."""
