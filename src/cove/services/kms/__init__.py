"""KMS: customer and AWS managed keys, real cryptography, key policies weighed with IAM."""
