"""The `kickwatch` command: the one place that wires the packages together.

It stands above them all (sensor, appliance, web), so that none of them needs to
reach up to another: `kickwatch web` starts the dashboard from here, not from the
appliance.
"""
