#!/usr/bin/env python3
"""A plugin that greets and then never answers: what a deadlocked plugin looks like.

Tests use it to check that the harness stops a run whose plugin hangs, within the time
limit, and leaves no process behind.
"""

import json
import sys
import time

json.loads(sys.stdin.readline())
sys.stdout.write('{"ok":true}\n')
sys.stdout.flush()
while True:
    time.sleep(3600)
