#!/usr/bin/env python3
"""A Byzantine pbft primary that tells one replica a different story, lets one other
replica alone commit the truth, then goes silent.

For every pre-prepare a Byzantine node sends, the replica it picked as its victim (its
highest-numbered peer) receives a conflicting one instead: the same view and sequence
number, an earlier client request (still carrying its client's valid signature, so it
cannot be refused as forged), the matching digest, and a valid signature made with the
Byzantine node's own key. For those lied-about sequence numbers the node sends its commit
to one witness only (its lowest-numbered peer): the witness commits and executes the
truth on its own commit, the other backup's and the traitor's, while the other two correct
replicas are one commit short. Once it has lied the node answers no fetch, so the lagging
replicas cannot catch up: only one correct replica executed those entries, and catch-up
needs f+1. After lying about SILENT_AFTER sequence numbers (environment variable, default
3) the node drops its later pre-prepares and everything else it sends but the witness's
commits, which forces a view change: the new primary has to choose between the
certificates of the replicas that were told different things, and the lagging replicas
execute whatever it chooses at the seqs the witness already executed.

A correct pbft (2f matching prepares, prepared certificates kept across the view change)
shrugs this off: the victim never gets a prepare quorum for its story, and the new view
re-proposes what the witness executed. The `prepare-ignores-digest` variant prepares the
victim's story and may put it in the new view; `viewchange-drops-prepared` drops every
certificate and numbers new requests from the stable checkpoint. Either way the lagging
replicas execute something else at a seq where the witness executed the truth: an agreement
violation.

The protocol: one JSON object per line on stdin, one answer per line on stdout (see
docs/writing-an-adversary.md). Standard library only, plus pbft_wire.py (canonical JSON,
digests, signing, the protocol loop) and ed25519.py next to this file.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pbft_wire import answer, digest_of, pbft_message, serve, sign, traitor_keys  # noqa: E402  (next to this file)

SILENT_AFTER = int(os.environ.get("SILENT_AFTER", "3"))
DROP = [{"action": "drop"}]


class Primary:
    def __init__(self, hello):
        self.keys = traitor_keys(hello)
        peers = {b: [p for p in range(hello["n"]) if p != b] for b in self.keys}
        self.victim = {b: max(peers[b]) for b in self.keys}
        self.witness = {b: min(peers[b]) for b in self.keys}
        self.told = {}  # (view, seq) -> the digest the victim was told
        self.seen = []  # requests of earlier pre-prepares, as the clients signed them
        self.silent = set()  # Byzantine nodes that stopped talking

    def message(self, request):
        sender, to = request["from"], request["to"]
        if sender not in self.keys:
            return answer()
        message = pbft_message(request)
        if message is None:
            return answer(DROP if sender in self.silent else ())
        kind = message.get("type")
        slot = (message.get("view"), message.get("seq"))
        if kind == "commit" and slot in self.told:
            # The truth for the witness alone; everybody else stays one commit short.
            return answer() if to == self.witness[sender] else answer(DROP)
        if kind == "pre-prepare" and isinstance(slot[1], int):
            return self.pre_prepare(sender, to, slot, message)
        if sender in self.silent or (kind == "entries" and self.told):
            return answer(DROP)
        return answer()

    def pre_prepare(self, sender, to, slot, message):
        # Pre-prepares up to the last lie still reach everyone (the plugin answers the links
        # one message at a time, so some arrive after the lie that made the node fall silent);
        # the ones after it are dropped.
        lied_up_to = max((seq for _, seq in self.told), default=0)
        if len(self.told) >= SILENT_AFTER and slot[1] > lied_up_to:
            note = None if sender in self.silent else {"silent": "from now on"}
            self.silent.add(sender)
            return answer(DROP, note)
        if not message.get("request"):
            return answer()
        if message["request"] not in self.seen:
            self.seen.append(message["request"])
        if to != self.victim[sender]:
            return answer()
        earlier = [r for r in self.seen if r != message["request"]]
        if not earlier:
            return answer()
        # A real, client-signed request from earlier: replicas that check client
        # signatures accept it, so only the digest rule can stop the lie.
        message["request"] = earlier[-1]
        message["digest"] = digest_of(message["request"])
        self.told[slot] = message["digest"]
        sign(message, self.keys[sender])
        note = {"lie": "pre-prepare", "view": slot[0], "seq": slot[1], "digest": message["digest"]}
        return answer([{"action": "replace", "payload": json.dumps(message)}], note)


if __name__ == "__main__":
    serve(Primary)
