"""The one place Logger, Tracer and Metrics are created; every module imports them from here."""

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "rostersync"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace="RosterSync", service=SERVICE)
