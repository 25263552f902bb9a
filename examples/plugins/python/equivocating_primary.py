#!/usr/bin/env python3
"""A Byzantine pbft primary that tells one replica a different story, then goes silent.

For every pre-prepare a Byzantine node sends, the replica it picked as its victim (its
highest-numbered peer) receives a conflicting one instead: the same view and sequence
number, an earlier client request (still carrying its client's valid signature, so it
cannot be refused as forged), the matching digest, and a valid signature made with the
Byzantine node's own key. The node's commits to the victim name the
victim's digest too, so the lie is consistent. After lying about SILENT_AFTER sequence
numbers (environment variable, default 3) the node drops everything it sends, which
forces a view change: the new primary then has to choose between the certificates of the
replicas that were told different things.

A correct pbft (2f+1 prepares with matching digests) shrugs this off: the victim never
gets a prepare quorum for its story. The `prepare-ignores-digest` variant does not, and
commits different requests at one sequence number: an agreement violation.

The protocol: one JSON object per line on stdin, one answer per line on stdout (see
docs/writing-an-adversary.md). Standard library only, plus pbft_wire.py (canonical JSON,
digests, signing, the protocol loop) and ed25519.py next to this file.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pbft_wire import digest_of, pbft_message, serve, sign  # noqa: E402  (next to this file)

SILENT_AFTER = int(os.environ.get("SILENT_AFTER", "3"))


class Primary:
    def __init__(self, hello):
        self.n = hello["n"]
        self.keys = {int(node): bytes.fromhex(key) for node, key in hello["keys"].items()}
        self.victim = {b: max(p for p in range(self.n) if p != b) for b in self.keys}
        self.told = {}  # (view, seq) -> the digest the victim was told
        self.seen = []  # requests of earlier pre-prepares, as the clients signed them
        self.silent = set()  # Byzantine nodes that stopped talking

    def message(self, request):
        sender, to = request["from"], request["to"]
        if sender not in self.keys or "payload" not in request:
            return {"actions": []}
        if sender in self.silent:
            return {"actions": [{"action": "drop"}]}
        message = pbft_message(request)
        if message is None:
            return {"actions": []}
        kind = message.get("type")
        slot = (message.get("view"), message.get("seq"))
        if kind == "pre-prepare" and message.get("request") and message["request"] not in self.seen:
            self.seen.append(message["request"])
        if kind == "pre-prepare" and message.get("request") and to == self.victim[sender]:
            earlier = [r for r in self.seen if r != message["request"]]
            if not earlier:
                return {"actions": []}
            # A real, client-signed request from earlier: replicas that check client
            # signatures accept it, so only the digest rule can stop the lie.
            message["request"] = earlier[-1]
            message["digest"] = digest_of(message["request"])
            self.told[slot] = message["digest"]
            sign(message, self.keys[sender])
            note = {"lie": "pre-prepare", "view": slot[0], "seq": slot[1], "digest": message["digest"]}
            return {"actions": [{"action": "replace", "payload": json.dumps(message)}], "note": note}
        if kind in ("prepare", "commit") and to == self.victim[sender] and slot in self.told:
            message["digest"] = self.told[slot]
            sign(message, self.keys[sender])
            return {"actions": [{"action": "replace", "payload": json.dumps(message)}]}
        if len(self.told) >= SILENT_AFTER and kind == "pre-prepare":
            self.silent.add(sender)
            return {"actions": [{"action": "drop"}], "note": {"silent": "from now on"}}
        return {"actions": []}


if __name__ == "__main__":
    serve(Primary)
