"""`make bench` (`python -m bench`): what the deploy tasks add to a deploy, measured against the local sandbox.

Not a test: it measures and reports, and exits non-zero only when it could not measure. Everything runs
against the sandbox (sandbox/) on 127.0.0.1, with rollouts that take a known time and a known poll interval,
and the real command lines as subprocesses: `fab`, the AWS CLI and ecs-deploy. API calls are counted at the
emulated server (sandbox/api_calls.py); rollout ends are timestamped by the emulated ECS (sandbox/ecs.py); the
tools' output lines are timestamped as they arrive here, all on this process's monotonic clock.

Assumptions: the project is installed with its `test` and `bench` extras (moto[server], awscli, ecs-deploy);
`fab`, `aws` and `ecs` are the ones beside this Python; one sandbox runs at a time (moto's state is
process-global). This machine is small and noisy: compare the ratios, not the absolute times.
"""
