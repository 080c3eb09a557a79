"""Pure rules: no I/O, no boto3, botocore, PynamoDB or Chalice; time and randomness come in as arguments."""
