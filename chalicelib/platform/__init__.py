"""Platform code: configuration, observability, secrets, time, tokens and the AWS clients that are not DynamoDB."""
