"""SageMaker: training and processing jobs (the API, and the lifecycle functions the job reconciler
records its progress with), tags, and the VPC pre-flight run at job creation."""
