"""The deploy core: configuration, AWS gateways, waits and the deploy plan.

Nothing in this package imports Invoke or Fabric; the task modules one level up are the only glue.
Modules that talk to AWS import botocore at the top, so task modules import them inside task bodies
(keeping `fab --list` free of boto3 and requests).
"""
