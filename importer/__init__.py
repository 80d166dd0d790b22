"""Import Amazon DynamoDB exports into Django models: one pipeline, three doors."""
