#!/usr/bin/env python3
"""A Byzantine pbft backup that proposes on its own, then makes a view change adopt it.

Meant for n = 4 with the traitor at the highest id (`--byzantine-nodes 3`). A pre-prepare is
only valid from the view's primary; the `accept-non-primary-preprepare` variant takes one
from any replica, both in the normal case and inside the prepared certificates that
view-changes carry. Within one view that alone breaks nothing (2f+1 commit quorums meet in
a correct replica, which accepts one pre-prepare per view and seq), so the attack goes
through a view change. It runs in a view v whose primary P and next primary are both
correct and where the tie below can be won (v = 0 or 1 mod 4 with the traitor at 3); the
victim is then the highest correct backup (node 2), the holdout H the other correct backup:

1. Plant. When P proposes, the traitor sends the victim its own validly signed pre-prepare
   for a seq t = (highest seq P proposed) + GAP that P has not used yet, carrying an
   earlier request Y (with its client's valid signature, so it cannot be refused as
   forged) and its digest, then its own prepare for it. The buggy victim accepts it, so it
   ignores P's pre-prepare of the real request X at t when that comes, and with {victim,
   traitor} = 2f prepares it holds a prepared certificate for Y at (v, t). The traitor's
   prepare and commit of X at t never reach the victim. When the victim's prepare of Y
   shows on the wire, the plant took.
2. Starve. The traitor helps X through at t (its prepare to P and H, its commit to P) but
   withholds its commit from H: P commits and executes X at t with {P, H, traitor}, H holds
   a certificate for X without a commit quorum, the victim one for Y. The traitor stops
   answering catch-up fetches, and P alone is fewer than the f+1 matching answers a
   lagging replica needs, so H and the victim stay stuck below t until their request
   timers vote for view v+1.
3. Tie. At the first correct view-change for v+1 on the wire, the traitor sends everyone
   its own: a copy of that one (its checkpoint proof and certificates, all transferable)
   whose certificate for t is the traitor's: its pre-prepare, the victim's prepare of Y
   (captured off the wire, signed by the victim) and its own prepare, re-signed with the
   traitor's key. The new primary takes the first 2f+1 view-changes it holds; all their
   certificates for t are from view v, and it breaks the tie in favour of the last one,
   ordered by sender id: the traitor's if its vote is among them, else the victim's (the
   highest correct id). (The traitor's own honest view-change is dropped, since its
   certificate for X would come last.) So view v+1 re-proposes Y at t, and H and the
   victim, which never executed t, commit Y there while P executed X: an agreement
   violation.

The forged messages travel in place of the traitor's next message to their receiver (a
`replace`), which keeps them in order with what the traitor really sends; the honest
message lost that way is one vote the correct replicas do without. (It was written while
the proxy still lost most injected messages, fixed in 2d5ab87.)

A correct pbft refuses the plant (the pre-prepare is not from the primary), so the victim
prepares X like everyone else, nothing is planted, and apart from the traitor's own votes
on t nothing changes; the plugin tries again on a later seq, up to MAX_ATTEMPTS times.
Environment variables: GAP (default 6: P has often proposed a few seqs more than this
plugin has seen yet) and MAX_ATTEMPTS (default 10).

The protocol: one JSON object per line on stdin, one answer per line on stdout (see
docs/writing-an-adversary.md). Standard library only, plus pbft_wire.py (canonical JSON,
digests, signing, the protocol loop) and ed25519.py next to this file.
"""

import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pbft_wire import answer, digest_of, pbft_message, serve, sign, traitor_keys  # noqa: E402  (next to this file)

GAP = int(os.environ.get("GAP", "6"))
MAX_ATTEMPTS = int(os.environ.get("MAX_ATTEMPTS", "10"))
WINDOW = 32  # pbft's 2 * checkpoint interval: certificates above stable_seq + WINDOW are invalid


class Backup:
    def __init__(self, hello):
        self.n = hello["n"]
        keys = traitor_keys(hello)
        self.traitor = max(keys)
        self.key = keys[self.traitor]
        self.correct = [p for p in range(self.n) if p not in keys]
        self.latest = None  # the request of the latest pre-prepare, as its client signed it
        self.view = 0  # the latest view a primary was seen proposing in
        self.top = 0  # highest seq proposed in that view
        self.attempts = 0
        self.attack = None  # the current attempt (an Attack), if any
        self.sent_view_change = set()  # new views the traitor already voted for, its way
        self.mute = False  # whether the traitor stopped answering fetches for good
        # What the traitor still has to say to each peer: each goes out in place of its next
        # message to that peer (see `own`), (payload, note) pairs.
        self.outbox = {p: collections.deque() for p in range(self.n)}

    def primary(self, view):
        return view % self.n

    def message(self, request):
        message = pbft_message(request)
        if message is None:
            return answer()
        if request["from"] == self.traitor:
            return self.own(message, request["to"])
        return self.watch(message, request["from"])

    # ----- what correct nodes send: learn, plant, see whether the plant took -----

    def watch(self, message, sender):
        kind, view, seq = message.get("type"), message.get("view"), message.get("seq")
        if kind == "pre-prepare" and isinstance(view, int) and sender == self.primary(view):
            if view > self.view:
                self.view, self.top = view, 0
                if self.attack and self.attack.view < view:
                    self.attack = None  # that view is over: whatever it gave, try again
            if view == self.view:
                self.top = max(self.top, seq)
            if message.get("request"):
                self.latest = message["request"]
            if self.attack is None and self.attempts < MAX_ATTEMPTS and view == self.view:
                return self.plant(view)
            return answer()
        if self.attack and kind == "prepare" and sender == self.attack.victim:
            reply, refused = self.attack.victim_prepared(message)
            if refused:
                self.attack = None  # the next pre-prepare starts a new attempt
            elif self.attack.victim_prepare:
                self.mute = True
            return reply
        if self.attack and kind == "view-change" and self.attack.victim_prepare:
            return self.vote(message)
        return answer()

    def roles(self, view):
        """(victim, holdout) for an attempt in `view`, or None where the tie cannot be won.

        The next primary N takes the first 2f+1 view-changes it holds, its own among them,
        and for t the certificate of the highest sender id among them: that must be the
        victim's or the traitor's whichever 2f+1 they are. So the highest id must be one of
        them, and so must the second highest unless the highest is N (always in the set).
        With the traitor at 3 that is views 0 and 1 mod 4, with node 2 the victim.
        """
        p, nxt = self.primary(view), self.primary(view + 1)
        if self.traitor in (p, nxt):
            return None  # the traitor leads this view or would build the next one
        backups = [c for c in self.correct if c != p]
        top, second = sorted(range(self.n), reverse=True)[:2]
        for victim in backups:
            ours = (victim, self.traitor)
            if top in ours and (nxt == top or second in ours):
                return victim, min(c for c in backups if c != victim)
        return None

    def plant(self, view):
        roles = self.roles(view)
        if roles is None or self.latest is None:
            return answer()
        self.attempts += 1
        # Y: a request some primary already ordered at a lower seq, still client-signed.
        victim, holdout = roles
        self.attack = attack = Attack(self, view, self.top + GAP, victim, holdout, self.latest)
        self.outbox[attack.victim].clear()  # an earlier attempt's plant still waiting
        self.outbox[attack.victim].extend([
            (json.dumps(attack.pre_prepare), {"plant": "pre-prepare", "seq": attack.seq}),
            (json.dumps(attack.prepare), {"plant": "prepare", "seq": attack.seq}),
        ])
        note = {"attempt": attack.attempt, "view": view, "seq": attack.seq, "victim": attack.victim,
                "holdout": attack.holdout, "digest": attack.digest,
                "client": attack.request.get("client"), "req": attack.request.get("req")}
        return answer(note=note)

    def vote(self, message):
        """The traitor's view-change, sent at the first correct one for a new view."""
        new_view = message.get("new_view")
        stable = message.get("stable_seq", 0)
        attack = self.attack
        if (
            not isinstance(new_view, int)
            or new_view <= attack.view
            or new_view in self.sent_view_change
            or self.primary(new_view) == self.traitor
            or not stable < attack.seq <= stable + WINDOW
        ):
            return answer()
        self.sent_view_change.add(new_view)
        ours = {"pre_prepare": attack.pre_prepare,
                "prepares": [attack.victim_prepare, attack.prepare]}
        prepared = [c for c in message.get("prepared", [])
                    if c["pre_prepare"].get("seq") != attack.seq]
        vote = sign(
            {"from": self.traitor, "type": "view-change", "new_view": new_view,
             "stable_seq": stable, "stable_proof": message.get("stable_proof", []),
             "prepared": prepared + [ours]},
            self.key,
        )
        note = {"view-change": new_view, "certifies": attack.seq, "digest": attack.digest}
        for to in range(self.n):
            if to != self.traitor:
                self.outbox[to].append((json.dumps(vote), note))
        return answer(note=dict(note, triggered_by=message.get("from")))

    # ----- what the traitor sends -----

    def own(self, message, to):
        if self.outbox[to]:
            # Ours goes in place of its own, on the connection the receiver reads.
            payload, note = self.outbox[to].popleft()
            note = dict(note, instead_of=message.get("type"))
            return answer([{"action": "replace", "payload": payload}], note)
        kind, view, seq = message.get("type"), message.get("view"), message.get("seq")
        drop = [{"action": "drop"}]
        if kind == "entries" and (self.mute or self.attack):
            # P alone is not f+1, so H and the victim cannot catch up on t: not while the
            # attempt runs, nor in the next view before they commit Y at t.
            return answer(drop)
        attack = self.attack
        if attack is None:
            return answer()
        if view == attack.view and seq == attack.seq and kind in ("prepare", "commit"):
            if to == attack.victim and message.get("digest") != attack.digest:
                return answer(drop)  # the victim hears only the traitor's story at t
            if to == attack.holdout and kind == "commit":
                return answer(drop)  # H must not commit X at t: P alone executes it
        if attack.victim_prepare is None:
            return answer()
        if kind == "view-change" and message.get("new_view") in self.sent_view_change:
            return answer(drop)  # it voted already, with the certificate for t
        return answer()


class Attack:
    """One attempt: Y planted at (view, seq) on the victim, X starved at H (the holdout)."""

    def __init__(self, backup, view, seq, victim, holdout, request):
        self.view, self.seq, self.victim, self.holdout = view, seq, victim, holdout
        self.attempt = backup.attempts
        self.request = request
        self.digest = digest_of(request)
        fields = {"from": backup.traitor, "view": view, "seq": seq, "digest": self.digest}
        self.pre_prepare = sign(dict(fields, type="pre-prepare", request=request), backup.key)
        self.prepare = sign(dict(fields, type="prepare"), backup.key)
        self.victim_prepare = None  # the victim's signed prepare of Y: the plant took

    def victim_prepared(self, message):
        """Reads the victim's prepare; returns the answer and whether the plant was refused."""
        slot = (message.get("view"), message.get("seq"))
        if slot != (self.view, self.seq) or self.victim_prepare:
            return answer(), False
        if message.get("digest") == self.digest:
            self.victim_prepare = message
            note = {"planted": self.seq, "view": self.view, "digest": self.digest}
            return answer(note=note), False
        # The victim prepared the primary's request: the plant was refused (a correct pbft)
        # or came too late. Try again on a later seq.
        note = {"refused": self.seq, "victim prepared": message.get("digest")}
        return answer(note=note), True


if __name__ == "__main__":
    serve(Backup)
