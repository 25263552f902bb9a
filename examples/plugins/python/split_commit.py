#!/usr/bin/env python3
"""A Byzantine pbft backup that helps one replica commit alone, then makes the next view
forget what it committed.

A correct pbft commits a request at seq s only on 2f+1 matching commits, so 2f+1 replicas
prepared it and every view-change quorum holds a certificate for s: the next view keeps it.
The `commit-quorum-f1` variant commits on f+1 commits, which a lone correct replica plus the
traitor make, and a view change then need not hear of s at all.

Meant for n = 4 with the traitor at node 2 (`--byzantine-nodes 2`) and the victim, node 3
(the highest correct id, or VICTIM), muted by the network for a while: nobody hears it,
it hears everyone (`examples/nemesis/mute-node-3.toml`: a one-way partition; the proxy
holds its messages and delivers them at the heal, which is only asynchrony, so a correct
pbft must stay safe under it). The traitor:

1. sends its prepares and commits to the victim only. Outside the mute the three correct
   replicas make their quorums without it. Under the mute, at each seq s the primary
   proposes, the victim prepares with the traitor's prepare and (with the bug) commits on
   its own commit plus the traitor's, executes and answers its clients; the primary and
   the other backup hear one prepare and stall.
2. sends a view-change that leaves out its certificate for the lowest seq that no correct
   replica besides the victim was seen committing, and keeps the others (re-signed with its
   own key: leaving out a certificate is a lie nobody can prove). The stalled replicas'
   request timers make the next primary (node 1 in view 0) build its view from their two
   view-changes and the traitor's, none with that certificate: s is filled with a null
   request (a higher seq is certified) or a new request, while the victim executed the
   original there. That is an agreement violation, and the client that the victim answered
   saw a write the cluster never made.
3. never leads a view (its new-views are dropped): as the new primary its own honest
   view-change would keep s.

A correct pbft never commits at the victim without a third replica's commit, so the view
change loses nothing that was committed and the run stays safe (terminating once the mute
heals).

The protocol: one JSON object per line on stdin, one answer per line on stdout (see
docs/writing-an-adversary.md). Standard library only, plus pbft_wire.py (canonical JSON,
signing, the protocol loop) and ed25519.py next to this file.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pbft_wire import answer, pbft_message, serve, sign, traitor_keys  # noqa: E402  (next to this file)


class SplitCommit:
    def __init__(self, hello):
        self.n = hello["n"]
        keys = traitor_keys(hello)
        self.traitor = min(keys)
        self.key = keys[self.traitor]
        correct = [p for p in range(self.n) if p not in keys]
        self.victim = int(os.environ.get("VICTIM", max(correct)))
        # Seqs a correct replica other than the victim was seen committing: those it has a
        # certificate for, so leaving them out would change nothing.
        self.committed_elsewhere = set()
        self.votes = {}  # new view -> the traitor's rewritten view-change payload

    def message(self, request):
        message = pbft_message(request)
        if message is None:
            return answer()
        if request["from"] == self.traitor:
            return self.own(message, request["to"])
        if message.get("type") == "commit" and request["from"] != self.victim:
            self.committed_elsewhere.add(message.get("seq"))
        return answer()

    def own(self, message, to):
        kind = message.get("type")
        if kind in ("prepare", "commit") and to != self.victim:
            return answer([{"action": "drop"}])
        if kind == "new-view":
            return answer([{"action": "drop"}], {"declined to lead": message.get("view")})
        if kind == "view-change":
            return self.view_change(message)
        return answer()

    def view_change(self, message):
        new_view = message.get("new_view")
        if new_view not in self.votes:
            certs = message.get("prepared", [])
            alone = sorted(
                c["pre_prepare"].get("seq")
                for c in certs
                if c["pre_prepare"].get("seq") not in self.committed_elsewhere
            )
            if not alone:
                self.votes[new_view] = (None, None)
            else:
                forgotten = alone[0]
                kept = [c for c in certs if c["pre_prepare"].get("seq") != forgotten]
                unsigned = {k: v for k, v in message.items() if k != "sig"}
                vote = sign(dict(unsigned, prepared=kept), self.key)
                note = {"view-change": new_view, "forgot": forgotten,
                        "kept": sorted(c["pre_prepare"].get("seq") for c in kept)}
                self.votes[new_view] = (json.dumps(vote), note)
        payload, note = self.votes[new_view]
        if payload is None:
            return answer()
        return answer([{"action": "replace", "payload": payload}], note)


if __name__ == "__main__":
    serve(SplitCommit)
