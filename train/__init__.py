"""Experiment scripts: thin command lines over sr_core (run as ``python -m train.<name>``)."""
