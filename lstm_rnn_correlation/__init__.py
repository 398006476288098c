"""lstm-rnn-correlation: learn a mapping from IDS alert lines to vectors.

Alerts of one incident land close together, DBSCAN groups them, and an operator
reads one alert per group while alerts in no group are filtered as false alerts.
See README.md and METHOD notes for the pipeline.
"""

__version__ = "0.1.0"
