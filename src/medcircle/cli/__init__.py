"""The ``medcircle`` command line."""
