"""The IAM replay: every AWS call a local night makes, checked against the template's roles.

`recorder` records the calls at botocore's entry point and charges each to a role; `requests`
says what IAM authorizes for each (actions, resources, condition keys); `policies` gives the
statements SAM generates for each role; `evaluate` decides as IAM does; `replay` ties them up.
"""
