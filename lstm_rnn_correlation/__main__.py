"""Allow ``python -m lstm_rnn_correlation``."""

import sys

from lstm_rnn_correlation.cli import main

sys.exit(main())
