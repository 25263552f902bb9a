"""What the pbft example plugins share: pbft's canonical JSON, request digests, signing a
message as a traitor, and the plugin protocol's loop (docs/writing-an-adversary.md).
Standard library only, plus ed25519.py next to this file."""

import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ed25519  # noqa: E402  (next to this file)


def canonical(value):
    """The canonical JSON pbft signs and digests: sorted keys, no whitespace."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest_of(request):
    """pbft's digest of a request: hex sha256 of its canonical JSON."""
    return hashlib.sha256(canonical(request).encode()).hexdigest()


def sign(message, key):
    """Signs `message` (a dict) in place with the 32-byte `key`; returns it."""
    unsigned = {k: v for k, v in message.items() if k != "sig"}
    message["sig"] = ed25519.sign(key, canonical(unsigned).encode()).hex()
    return message


def traitor_keys(hello):
    """The Byzantine nodes' signing keys from the harness's hello: node id -> 32-byte key."""
    return {int(node): bytes.fromhex(key) for node, key in hello["keys"].items()}


def answer(actions=(), note=None):
    """A reply to the harness: the actions taken, and the plugin's note on why (if any)."""
    out = {"actions": list(actions)}
    if note is not None:
        out["note"] = note
    return out


def pbft_message(request):
    """The pbft message a `message` request carries, as a dict; None when its payload is
    not a JSON object (not UTF-8, garbage from another traitor, a non-pbft frame)."""
    try:
        message = json.loads(request["payload"])
    except (KeyError, ValueError):
        return None
    return message if isinstance(message, dict) else None


def serve(make):
    """Answers the harness on stdin/stdout: `make(hello)` builds the adversary, whose
    `message(request)` answers each message; ticks get an empty answer unless it has a
    `tick(request)`."""
    adversary = None
    for line in sys.stdin:
        request = json.loads(line)
        if request["type"] == "hello":
            adversary = make(request)
            reply = {"ok": True}
        elif request["type"] == "message":
            reply = adversary.message(request)
        elif hasattr(adversary, "tick"):
            reply = adversary.tick(request)
        else:
            reply = {"actions": []}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
