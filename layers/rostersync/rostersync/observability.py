"""The one place Logger, Tracer and Metrics are created; every module imports them from here."""

import logging

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "rostersync"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace="RosterSync", service=SERVICE)

# At DEBUG, botocore logs whole request and response bodies: roster items with students' names
# and state ids, and the Clever secret. Whatever level an operator sets for our own logs, the AWS
# SDK's loggers stay at WARNING.
for _sdk_logger in ("botocore", "boto3", "s3transfer"):
    logging.getLogger(_sdk_logger).setLevel(logging.WARNING)
