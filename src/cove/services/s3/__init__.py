"""Amazon S3: buckets, objects, multipart uploads and their authorization."""
