"""The simulated fleet: a tool that drives a Mission Control server over HTTP through the agent SDK,
as real agents would (``manage.py simulate``). It sits beside ``bench/``, outside the domain apps:
none of them imports the SDK (tests/foundation/test_sdk_boundary.py). It is an app only so that
Django finds its ``simulate`` command; it has no models."""
