"""Cove: SageMaker API on kernel-enforced VPCs."""

__version__ = "0.1.0"
