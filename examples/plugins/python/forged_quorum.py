#!/usr/bin/env python3
"""A Byzantine pbft replica that forges a whole quorum for one correct replica.

Every EVERY-th sequence number the primary proposes (environment variable, default 10), up
to FORGE_TIMES times (default 3), the traitor tells its victim (the highest-numbered correct
backup) a complete, consistent story about a sequence number the primary has not used yet,
AHEAD numbers (default 3) past the highest it has seen:

- a pre-prepare claiming to come from the primary, carrying an earlier client request
  (still with its client's valid signature) and its digest;
- prepares claiming to come from every other correct backup, and the traitor's own;
- commits claiming to come from every other correct replica, and the traitor's own.

The traitor holds no correct replica's key: every message claiming another sender is signed
with the traitor's own key, so its signature is wrong for the sender it names. A correct
pbft drops all of them, and the traitor's own prepare and commit are no quorum. The
`skip-signature-check` variant does not look: the victim commits the earlier request at that
sequence number before the primary gets there, and the others commit what the primary
really proposes: two correct replicas hold different requests at one sequence number, an
agreement violation.

The protocol: one JSON object per line on stdin, one answer per line on stdout (see
docs/writing-an-adversary.md). Standard library only, plus pbft_wire.py (canonical JSON,
digests, signing, the protocol loop) and ed25519.py next to this file.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pbft_wire import digest_of, pbft_message, serve, sign, traitor_keys  # noqa: E402  (next to this file)

EVERY = int(os.environ.get("EVERY", "10"))
FORGE_TIMES = int(os.environ.get("FORGE_TIMES", "3"))
AHEAD = int(os.environ.get("AHEAD", "3"))


class Forger:
    def __init__(self, hello):
        self.n = hello["n"]
        self.keys = traitor_keys(hello)
        self.traitor = min(self.keys)
        self.proposals = set()  # (view, seq) of every pre-prepare seen
        self.highest = 0  # highest seq seen in any pre-prepare
        self.requests = []  # client-signed requests of earlier pre-prepares
        self.forged = 0

    def message(self, request):
        message = pbft_message(request)
        if message is None or message.get("type") != "pre-prepare" or not message.get("request"):
            return {"actions": []}
        view, seq, primary = message.get("view"), message.get("seq"), message.get("from")
        if (view, seq) in self.proposals:
            return {"actions": []}
        self.proposals.add((view, seq))
        self.highest = max(self.highest, seq)
        if message["request"] not in self.requests:
            self.requests.append(message["request"])
        due = len(self.proposals) % EVERY == 0 and self.forged < FORGE_TIMES
        earlier = [r for r in self.requests if r != message["request"]]
        if not due or not earlier:
            return {"actions": []}
        return self.forge(view, self.highest + AHEAD, primary, earlier[-1])

    def forge(self, view, seq, primary, story):
        correct = [p for p in range(self.n) if p not in self.keys]
        backups = [p for p in correct if p != primary]
        if not backups:
            return {"actions": []}
        victim = max(backups)
        key = self.keys[self.traitor]
        digest = digest_of(story)
        slot = {"view": view, "seq": seq, "digest": digest}
        forged = [sign({"from": primary, "type": "pre-prepare", **slot, "request": story}, key)]
        voters = [p for p in range(self.n) if p != victim]
        forged += [
            sign({"from": p, "type": "prepare", **slot}, key) for p in voters if p != primary
        ]
        forged += [sign({"from": p, "type": "commit", **slot}, key) for p in voters]
        self.forged += 1
        actions = [
            {"action": "inject", "from": self.traitor, "to": victim, "payload": json.dumps(m)}
            for m in forged
        ]
        claimed = sorted({m["from"] for m in forged} - {self.traitor})
        note = {
            "forged_quorum": {"view": view, "seq": seq, "digest": digest},
            "victim": victim,
            "claimed_senders": claimed,
            "request": story,
        }
        return {"actions": actions, "note": note}


if __name__ == "__main__":
    serve(Forger)
