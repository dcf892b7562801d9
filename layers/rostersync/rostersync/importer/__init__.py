"""The import stage: accepted records into the roster table (diff, safeguard, conditional writes).

Domain logic only (no boto3): `rostersync.roster_items` (on the floor, shared with the ports and
the adapter) maps records to table items, `diff` compares tonight's
records with what the table holds, `safeguard` decides whether archives are held, `service`
runs one district. The DynamoDB adapter is `rostersync.adapters.dynamodb_roster_table`; `wiring`
builds everything from Settings for the Lambda handler.
"""
