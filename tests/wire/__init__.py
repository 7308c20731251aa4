"""Wire-layer tests: botocore's own serializer and parser are the oracle."""
